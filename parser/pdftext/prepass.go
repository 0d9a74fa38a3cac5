package pdftext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	pdfcpu "github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// rewrite is the pdfcpu pre-pass for files ledongthuc cannot read as they are: it decrypts
// what ledongthuc's security handler does not (a crypt filter it does not know, a non-ASCII
// password encoded as the revision asks), rebuilds a missing or damaged cross-reference
// table, and re-encodes streams whose filters
// ledongthuc does not know (ASCIIHexDecode, LZW, RunLength) as FlateDecode. The result is a
// plain PDF that ledongthuc reads. It costs a full parse and write, so Read only calls it
// when the direct path fails. password, when not "", is tried as the user password (and as
// the owner password, which opens the file too): a PDF that needs one to open (ReadLocked).
func rewrite(data []byte, lim Limits, password string) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: pdfcpu: %v", ErrCorrupt, r)
		}
	}()
	conf := &model.Configuration{
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		Limits:                    model.DefaultResourceLimits(),
	}
	// DECRYPT makes pdfcpu drop the encryption when writing; it refuses plain files.
	encrypted := bytes.Contains(data, []byte("/Encrypt"))
	if encrypted {
		conf.Cmd = model.DECRYPT
		conf.UserPW, conf.OwnerPW = password, password
	}
	conf.Limits.MaxStreamBytes = lim.MaxStreamBytes
	conf.Limits.MaxDecodeBytes = lim.MaxStreamBytes
	conf.Limits.MaxObjectCount = 200_000
	conf.Limits.MaxXRefEntries = 200_000
	conf.Limits.MaxRecursionDepth = 64
	// pdfcpu's lower-level packages, not pkg/api: api pulls in its form package and
	// go-runewidth, whose package initialisation cost every PDF worker 18 ms at start.
	ctx, err := pdfcpu.Read(bytes.NewReader(data), conf)
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) || strings.Contains(err.Error(), "password") {
			return nil, ErrEncrypted
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for _, e := range ctx.XRefTable.Table {
		if e == nil || e.Free {
			continue
		}
		sd, ok := e.Object.(types.StreamDict)
		if !ok || !needsRecode(sd) {
			continue
		}
		if err := sd.Decode(); err != nil {
			continue
		}
		sd.FilterPipeline = []types.PDFFilter{{Name: "FlateDecode"}}
		sd.Delete("DecodeParms")
		if err := sd.Encode(); err != nil {
			continue
		}
		sd.Dict["Filter"] = types.Name("FlateDecode")
		e.Object = sd
	}
	if encrypted {
		ctx.Encrypt = nil
		ctx.E = nil
	}
	var buf bytes.Buffer
	ctx.Write.Writer = bufio.NewWriter(&buf)
	err = pdfcpu.WriteContext(ctx)
	if err = errors.Join(err, ctx.Write.Flush()); err != nil {
		return nil, fmt.Errorf("%w: rewriting: %v", ErrCorrupt, err)
	}
	return buf.Bytes(), nil
}

// needsRecode reports a stream with a filter that ledongthuc's Reader cannot undo.
func needsRecode(sd types.StreamDict) bool {
	for _, f := range sd.FilterPipeline {
		switch f.Name {
		case "FlateDecode":
			if f.DecodeParms != nil {
				if p := f.DecodeParms.IntEntry("Predictor"); p != nil && *p != 12 && *p != 1 {
					return true
				}
			}
		case "ASCII85Decode":
		case "DCTDecode", "JPXDecode", "CCITTFaxDecode", "JBIG2Decode":
			return false // images: we never read them
		default:
			return true
		}
	}
	return false
}
