package verifier

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

const registerCSV = "工事名,契約番号,契約日,入札公告日,備考\r\n" +
	"県道松江木次線道路改良工事,,2023/06/01,2023/04/10,①㈱\r\n" +
	"\"県道玉湯吾妻山線　測量設計業務委託\",2070004426,令和5年5月31日,,\r\n" +
	",,,,\r\n" +
	"宍道湖西岸護岸整備工事,,2022/4/1 0:00,,\r\n"

func checkRegister(t *testing.T, r *Register) {
	t.Helper()
	if r.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", r.Len())
	}
	tests := []struct {
		name, number string
		found        bool
		basis        string
		want         string
		line         int
	}{
		{"県道松江木次線道路改良工事", "", true, BasisContract, "2023-06-01", 2},
		{"県道松江木次線道路改良工事", "", true, BasisTenderNotice, "2023-04-10", 2},
		{"県道松江木次線 道路改良工事", "9999999999", true, BasisContract, "2023-06-01", 2},
		{"県道玉湯吾妻山線測量設計業務委託", "", true, BasisContract, "2023-05-31", 3},
		{"別の名前", "2070004426", true, BasisContract, "2023-05-31", 3},
		{"宍道湖西岸護岸整備工事", "", true, BasisContract, "2022-04-01", 5},
		{"県道米子境港線測量業務委託", "", false, "", "", 0},
		{"", "", false, "", "", 0},
	}
	for _, tt := range tests {
		e, ok := r.Lookup(tt.name, tt.number)
		if ok != tt.found {
			t.Errorf("Lookup(%q, %q) found = %v, want %v", tt.name, tt.number, ok, tt.found)
			continue
		}
		if !ok {
			continue
		}
		if got := e.Dates[tt.basis].String(); got != tt.want || e.Line != tt.line {
			t.Errorf("Lookup(%q, %q): %s = %s on line %d, want %s on line %d", tt.name, tt.number, tt.basis, got, e.Line, tt.want, tt.line)
		}
	}
}

func TestLoadRegisterUTF8BOM(t *testing.T) {
	r, err := LoadRegister(strings.NewReader("\uFEFF" + registerCSV))
	if err != nil {
		t.Fatal(err)
	}
	checkRegister(t, r)
}

func TestLoadRegisterUTF8(t *testing.T) {
	r, err := LoadRegister(strings.NewReader(registerCSV))
	if err != nil {
		t.Fatal(err)
	}
	checkRegister(t, r)
}

func TestLoadRegisterCP932(t *testing.T) {
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(registerCSV))
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRegister(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	checkRegister(t, r)
}

func TestLoadRegisterUTF16Tabs(t *testing.T) {
	text := strings.ReplaceAll(strings.ReplaceAll(registerCSV, ",", "\t"), "\"", "")
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRegister(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	checkRegister(t, r)
}

func TestLoadRegisterEnglishHeader(t *testing.T) {
	r, err := LoadRegister(strings.NewReader("Project Name,Contract Date,Tender-Notice Date\n県道松江木次線道路改良工事,2023-06-01,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := r.Lookup("県道松江木次線道路改良工事", ""); !ok || e.Dates[BasisContract] != date(2023, 6, 1) {
		t.Errorf("Lookup = %+v, %v", e, ok)
	}
}

func TestLoadRegisterAmbiguous(t *testing.T) {
	r, err := LoadRegister(strings.NewReader("工事名,契約日\nA工事,2023-06-01\nA工事,2022-06-01\nB工事,2023-06-01\nB工事,2023-06-01\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := r.Lookup("A工事", ""); ok {
		t.Errorf("Lookup(A工事) = %+v: two contracts with different dates, want none", e)
	}
	if _, ok := r.Lookup("B工事", ""); !ok {
		t.Errorf("Lookup(B工事): the same dates twice, want found")
	}
}

func TestLoadRegisterErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"工事名,備考\nA工事,x\n", "line 1: header"},
		{"契約日\n2023-06-01\n", "line 1: header"},
		{"工事名,契約日\nA工事,2023-06-01\nB工事,2023/13/01\n", "line 3: 契約日 \"2023/13/01\" is not a date"},
		{"工事名,契約日\nA工事,2023-06-01\n,2023-06-01\n", "line 3: no 工事名"},
		{"工事名,契約日\n\"A工事,2023-06-01\n", "line"},
	}
	for _, tt := range tests {
		_, err := LoadRegister(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadRegister(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}
