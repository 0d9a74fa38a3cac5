package intake

import (
	"slices"
	"strings"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/verifier"
)

func TestSettleOrderer(t *testing.T) {
	policy := verifier.Policy{Orderers: []string{"島根県知事", "島根県企業局長", "国土交通省中国地方整備局長", "松江市*"}}
	tests := []struct {
		name, read string
		ocr        bool
		want       string
		unsure     bool
		remark     bool
	}{
		{"exact", "島根県知事", true, "島根県知事", false, false},
		{"exact with a person's name", "島根県知事 丸山達也", true, "島根県知事 丸山達也", false, false},
		{"one glyph misread", "島根県和事", true, "島根県知事", false, true},
		{"one glyph lost", "島根県知", true, "島根県知事", false, true},
		{"two glyphs in a short name", "鳥取県知事", true, "鳥取県知事", true, false},
		{"two glyphs in a long name", "国土交通首中国地方整傭局長", true, "国土交通省中国地方整備局長", false, true},
		{"wildcard is no correction", "松江巿長", true, "松江巿長", true, false},
		{"another agency", "出雲市長", true, "出雲市長", true, false},
		{"text layer left alone", "島根県和事", false, "島根県和事", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := parser.Notice{Orderer: tt.read}
			if tt.ocr {
				n.Source, n.OCR = parser.SourceOCR, &parser.OCRMarks{}
			}
			settleOrderer(&n, policy)
			unsure := n.OCR != nil && slices.Contains(n.OCR.Unsure, "orderer")
			if n.Orderer != tt.want || unsure != tt.unsure || (n.Remark != "") != tt.remark {
				t.Errorf("settleOrderer(%q) = %q unsure %v remark %q, want %q unsure %v remark %v",
					tt.read, n.Orderer, unsure, n.Remark, tt.want, tt.unsure, tt.remark)
			}
			if tt.remark && !strings.Contains(n.Remark, tt.read) {
				t.Errorf("remark %q does not say what the image gave (%q)", n.Remark, tt.read)
			}
		})
	}
}

// TestSettleProject: an OCR'd 工事名 is unsure unless the agency's register vouches for it:
// its entry for the (certain) 保証契約番号, or else the one register name within a few edits.
func TestSettleProject(t *testing.T) {
	reg, err := verifier.LoadRegister(strings.NewReader("工事名,契約番号,契約日\n" +
		"千代川河川改修工事,1234567890,2025/04/01\n" +
		"一般国道９号道路改良工事（その２）,,2025/05/01\n" +
		"斐伊川築堤工事（第１工区）,,2025/06/01\n" +
		"斐伊川築堤工事（第２工区）,,2025/06/01\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, read, number string
		numberUnsure       bool
		reg                *verifier.Register
		want               string
		unsure, remark     bool
	}{
		{"no register: unsure even when right", "千代川河川改修工事", "1234567890", false, nil, "千代川河川改修工事", true, false},
		{"the number's entry agrees", "千代川河川改修工事", "1234567890", false, reg, "千代川河川改修工事", false, false},
		{"the number's entry, one glyph misread", "十代川河川改修工事", "1234567890", false, reg, "千代川河川改修工事", false, true},
		{"the number's entry, another contract's name", "一般国道９号道路改良工事（その２）", "1234567890", false, reg, "一般国道９号道路改良工事（その２）", true, false},
		{"an unsure number is not used, the names are", "十代川河川改修工事", "1234567890", true, reg, "千代川河川改修工事", false, true},
		{"an unsure number is not used for another contract's name", "一般国道９号道路改良工事（その２）", "1234567890", true, reg, "一般国道９号道路改良工事（その２）", false, false},
		{"by name, one glyph misread", "一般国道９号道路改良工亊（その２）", "5555555555", false, reg, "一般国道９号道路改良工事（その２）", false, true},
		{"by name, two neighbours within reach", "斐伊川築堤工事（第３工区）", "5555555555", false, reg, "斐伊川築堤工事（第３工区）", true, false},
		{"by name, nothing near", "宍道湖護岸工事", "5555555555", false, reg, "宍道湖護岸工事", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := parser.Notice{ProjectName: tt.read, ContractNumber: tt.number, Source: parser.SourceOCR,
				OCR: &parser.OCRMarks{Unsure: []string{"project_name"}}}
			if tt.numberUnsure {
				n.OCR.Unsure = append(n.OCR.Unsure, "contract_number")
			}
			settleProject(&n, tt.reg)
			if n.ProjectName != tt.want || n.UnsureField("project_name") != tt.unsure || (n.Remark != "") != tt.remark {
				t.Errorf("settleProject(%q) = %q unsure %v remark %q, want %q unsure %v remark %v",
					tt.read, n.ProjectName, n.UnsureField("project_name"), n.Remark, tt.want, tt.unsure, tt.remark)
			}
		})
	}
}
