package emulator

import (
	"testing"

	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// FuzzParseRegister: whatever body element arrives, reading and checking
// it as registerDocumentRequest neither panics nor accepts a request
// without the fields РЭМД requires.
func FuzzParseRegister(f *testing.F) {
	f.Add([]byte(`<registerDocumentRequest xmlns="` + wire.NamespaceService + `"><localUid>2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11</localUid><kind>148</kind></registerDocumentRequest>`))
	f.Add([]byte(`<registerDocumentRequest xmlns="` + wire.NamespaceService + `"><personalSignatures><personalSignature><signer/><signature><data>MA==</data><checksum>1</checksum></signature></personalSignature></personalSignatures><orgSignature/></registerDocumentRequest>`))
	f.Add([]byte(`<x/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmldsig.Parse(data, xmldsig.Limits{MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		req, errs := parseRegister(el)
		if len(errs) == 0 && (req.LocalUID == "" || req.Organization == "" || len(req.Signatures) == 0 || req.Patient.FamilyName == "") {
			t.Fatalf("a request without its required fields passed: %+v", req)
		}
	})
}
