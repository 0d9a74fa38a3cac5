package verifier

import "testing"

func TestContractKind(t *testing.T) {
	tests := []struct{ name, want string }{
		// Project names of the shared samples.
		{"県道玉湯吾妻山線測量設計業務委託", KindServices},
		{"県道米子境港線測量業務委託", KindServices},
		{"県道米子境港線地質調査業務委託", KindServices},
		{"県道松江木次線道路改良工事", KindWorks},
		{"一般国道9号益田道路改良工事（第2工区）", KindWorks},
		{"静間川河川改修工事（その２）", KindWorks},
		{"県道松江木次線舗装補修工事", KindWorks},
		// Others.
		{"斐伊川橋梁点検業務（その2）", KindServices},
		{"県道出雲三刀屋線　橋梁詳細設計", KindServices},
		{"宍道湖西岸　用地測量", KindServices},
		{"浜田港臨港道路　地質調査", KindServices},
		{"庁舎管理業務棟改修工事", KindWorks},
		{"江の川水系河川改修", KindWorks},
		{"", KindWorks},
	}
	for _, tt := range tests {
		if got := ContractKind(tt.name); got != tt.want {
			t.Errorf("ContractKind(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOrdererMatches(t *testing.T) {
	shimane := Policy{Orderers: []string{"島根県知事"}}
	ctc := Policy{Orderers: []string{"*鳥取県建設技術センター理事長"}}
	mlit := Policy{Orderers: []string{"*国土交通省*", "*地方整備局*", "*北海道開発局*"}}
	tests := []struct {
		p       Policy
		orderer string
		want    bool
	}{
		{shimane, "島根県知事", true},
		{shimane, "島根県知事 丸山達也", true},
		{shimane, "島根県知事　丸山　達也", true},
		{shimane, "島 根 県 知 事", true},
		{shimane, "島根県知事 殿", true},
		{shimane, "島根県知事丸山達也様", true},
		{shimane, "島根県知事公室長", false},
		{shimane, "鳥取県知事", false},
		{shimane, "松江市長", false},
		{shimane, "島根県知事 Maruyama", false},
		{ctc, "鳥取県建設技術センター理事長", true},
		{ctc, "公益財団法人鳥取県建設技術センター理事長 山田太郎", true},
		{ctc, "鳥取県知事", false},
		{mlit, "国土交通省中国地方整備局長", true},
		{mlit, "分任支出負担行為担当官 中国地方整備局 松江国道事務所長", true},
		{mlit, "北海道開発局 札幌開発建設部長", true},
		{mlit, "支出負担行為担当官 国土交通省大臣官房会計課長", true},
		{mlit, "島根県知事", false},
		{mlit, "国土交通大臣", false},
	}
	for _, tt := range tests {
		if got := tt.p.ordererMatches(tt.orderer); got != tt.want {
			t.Errorf("%v.ordererMatches(%q) = %v, want %v", tt.p.Orderers, tt.orderer, got, tt.want)
		}
	}
}

func TestCanonicalCategory(t *testing.T) {
	tests := []struct{ in, want string }{
		{"前払金保証", CategoryAdvance},
		{"前 払 金 保 証", CategoryAdvance},
		{"前払金", CategoryAdvance},
		{"中間前払金保証", CategoryIntermediateAdvance},
		{"契約保証", CategoryContract},
		{"契約保証予約", CategoryContractReservation},
		{"契約保証（予約）", CategoryContractReservation},
		{"入札保証", "入札保証"},
	}
	for _, tt := range tests {
		if got := canonicalCategory(tt.in); got != tt.want {
			t.Errorf("canonicalCategory(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
