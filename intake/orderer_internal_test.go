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
