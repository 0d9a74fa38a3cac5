package noticepdf

import (
	"bytes"
	"fmt"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Encrypt protects a PDF with the standard security handler's AES-256 (revision 5; qpdf and
// current Acrobat write revision 6, which the corpus covers), through pdfcpu. An empty userPassword
// gives a file that opens without a password (only the owner password restricts it, like
// sp10); an empty ownerPassword takes the user password, as qpdf does.
func Encrypt(pdf []byte, userPassword, ownerPassword string) ([]byte, error) {
	if ownerPassword == "" {
		ownerPassword = userPassword
	}
	// A configuration built here rather than model.NewAESConfiguration, which would create
	// pdfcpu's configuration directory in the user's home.
	conf := &model.Configuration{
		Reader15:          true,
		ValidationMode:    model.ValidationRelaxed,
		Eol:               types.EolLF,
		EncryptUsingAES:   true,
		EncryptKeyLength:  256,
		Permissions:       model.PermissionsPrint,
		UserPW:            userPassword,
		OwnerPW:           ownerPassword,
		WriteObjectStream: false,
		WriteXRefStream:   false,
		Limits:            model.DefaultResourceLimits(),
	}
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(pdf), &out, conf); err != nil {
		return nil, fmt.Errorf("noticepdf: encrypt: %w", err)
	}
	return out.Bytes(), nil
}
