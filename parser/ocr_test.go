package parser

import "testing"

// TestStrayEdge: a name read from an image that begins or ends with a speck read as a glyph
// is unsure; brackets and names as printed are not.
func TestStrayEdge(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"千代川河川改修工事", false},
		{"一級河川斐伊川護岸災害復旧工事（その２）", false},
		{"（仮称）松江市立図書館新築工事", false},
		{"県道・市道交差点改良工事", false},
		{"・千代川河川改修工事", true},
		{"千代川河川改修工事|", true},
		{"'島根県知事", true},
		{"島根県知事_", true},
	} {
		if got := strayEdge(tt.name); got != tt.want {
			t.Errorf("strayEdge(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
