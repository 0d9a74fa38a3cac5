package noticepdf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"
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
	out, err := encrypt(pdf, conf)
	if err != nil {
		return nil, fmt.Errorf("noticepdf: encrypt: %w", err)
	}
	return out, nil
}

// encrypt is what pdfcpu's api.Encrypt does (read, validate, optimise, write), over its
// lower-level packages: this package is linked into the daemon (the demo's mailbox), and
// pkg/api's imports (its form package, go-runewidth) cost every PDF worker 18 ms at start.
func encrypt(pdf []byte, conf *model.Configuration) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pdfcpu: %v", r)
		}
	}()
	conf.Cmd = model.ENCRYPT
	ctx, err := pdfcpu.Read(bytes.NewReader(pdf), conf)
	if err != nil {
		return nil, err
	}
	if err := validate.XRefTable(ctx); err != nil {
		return nil, err
	}
	if err := pdfcpu.OptimizeXRefTable(ctx); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	ctx.Write.Writer = bufio.NewWriter(&buf)
	err = pdfcpu.WriteContext(ctx)
	if err = errors.Join(err, ctx.Write.Flush()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
