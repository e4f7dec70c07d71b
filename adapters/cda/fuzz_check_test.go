package cda_test

import (
	"context"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// FuzzCheck gives Check any file and any bytes as the doctor's signature:
// it must not panic, must accept the good document, and must report
// something for any other file (the organization's signature is over the
// good one).
func FuzzCheck(f *testing.F) {
	ctx := context.Background()
	fx := newFixture(f, signer.GOST2012_256)
	doc, err := fx.pki.Make(ctx, event())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc.File, doc.Signatures[0])
	f.Add([]byte("<a/>"), []byte{0x30, 0x80, 0, 0})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, file, sig []byte) {
		in := input{ev: doc.Event, file: file, sigs: [][]byte{sig, doc.Signatures[1]}, at: requestAt}
		res := in.check(ctx, fx.checker)
		if string(file) == string(doc.File) && string(sig) == string(doc.Signatures[0]) {
			if len(res.Problems) != 0 {
				t.Fatalf("the good document: %v", res.Problems)
			}
			return
		}
		if len(res.Problems) == 0 && string(file) != string(doc.File) {
			t.Fatalf("another file passed: %v", codes(res))
		}
	})
}
