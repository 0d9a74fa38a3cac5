package noticepdf_test

import (
	"bytes"
	"fmt"
	"log"

	"hosho-intake/parser/noticepdf"
)

// Example writes the kind of set a reader's tests need: every sample notice in every variant,
// the wrong document, a scan and a password-protected copy.
func Example() {
	notices := noticepdf.Samples()
	files := map[string][]byte{}
	for _, v := range noticepdf.Variants() {
		var b bytes.Buffer
		if err := noticepdf.Write(&b, notices, v.Options); err != nil {
			log.Fatal(err)
		}
		files[v.Name+".pdf"] = b.Bytes()
	}

	var cert, scan bytes.Buffer
	if err := noticepdf.Certificate(&cert, notices[0], noticepdf.Options{Encoding: noticepdf.IdentityToUnicode}); err != nil {
		log.Fatal(err)
	}
	if err := noticepdf.ImageOnly(&scan, notices[0]); err != nil {
		log.Fatal(err)
	}
	files["wrong-document.pdf"], files["scan.pdf"] = cert.Bytes(), scan.Bytes()

	locked, err := noticepdf.Encrypt(files["ucs2-table.pdf"], "s3cret", "owner")
	if err != nil {
		log.Fatal(err)
	}
	files["user-password.pdf"] = locked

	fmt.Println(len(files), "files")
	fmt.Println("pages in cover-page.pdf:", bytes.Count(files["cover-page.pdf"], []byte("/Type /Page ")))
	// Output:
	// 40 files
	// pages in cover-page.pdf: 6
}
