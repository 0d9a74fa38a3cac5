package sandbox

import (
	"slices"
	"testing"
)

// TestProgramMappings reads smaps text: only the program's read-only mappings without
// anonymous pages are released.
func TestProgramMappings(t *testing.T) {
	const smaps = `00400000-00d65000 r-xp 00000000 fe:00 101 /opt/hosho intake/hosho-intake
Size:               9620 kB
Rss:                7760 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
00d65000-0180c000 r--p 00965000 fe:00 101 /opt/hosho intake/hosho-intake
Rss:                3140 kB
Anonymous:             0 kB
0180c000-01810000 r--p 0140c000 fe:00 101 /opt/hosho intake/hosho-intake
Rss:                  16 kB
Anonymous:             4 kB
01810000-01993000 rw-p 01410000 fe:00 101 /opt/hosho intake/hosho-intake
Rss:                 728 kB
Anonymous:           128 kB
01993000-019a0000 rw-p 00000000 00:00 0
Rss:                  52 kB
Anonymous:            52 kB
7f0000000000-7f0000100000 r--p 00000000 fe:00 202 /var/lib/hosho-intake/state.db
Rss:                 400 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 fe:00 303 /opt/hosho intake/hosho-intake-old
Rss:                 100 kB
Anonymous:             0 kB
`
	got := programMappings([]byte(smaps), "/opt/hosho intake/hosho-intake")
	want := []mapping{{0x400000, 0xd65000, 7760}, {0xd65000, 0x180c000, 3140}}
	if !slices.Equal(got, want) {
		t.Errorf("programMappings() = %x, want %x", got, want)
	}
}
