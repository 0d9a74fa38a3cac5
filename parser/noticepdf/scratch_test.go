package noticepdf

import (
	"bytes"
	"os"
	"testing"
)

func TestScratchDump(t *testing.T) {
	for _, v := range Variants() {
		var b bytes.Buffer
		Write(&b, Samples()[1:3], v.Options)
		os.WriteFile("/tmp/np/v-"+v.Name+".pdf", b.Bytes(), 0o644)
	}
	var b bytes.Buffer
	Certificate(&b, Samples()[0], Options{Encoding: IdentityToUnicode})
	os.WriteFile("/tmp/np/cert.pdf", b.Bytes(), 0o644)
	b.Reset()
	ImageOnly(&b, Samples()[0])
	os.WriteFile("/tmp/np/img.pdf", b.Bytes(), 0o644)
}
