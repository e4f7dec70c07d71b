package cms

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and, for what parses, to
// VerifyDigest: both must return, never panic.
func FuzzParse(f *testing.F) {
	doc := document(1000)
	for _, alg := range allAlgorithms {
		p := newPKI(f, alg)
		for _, v2 := range []bool{false, true} {
			der, err := Sign(f.Context(), p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: t0, SigningCertificateV2: v2})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(der)
		}
	}
	f.Add([]byte{0x30, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := Parse(der)
		if err != nil {
			if sd != nil {
				t.Fatal("a SignedData and an error")
			}
			return
		}
		if sd.Signer == nil || sd.Algorithm == 0 || sd.SigningTime.IsZero() {
			t.Fatalf("parsed without signer, algorithm or time")
		}
		_ = sd.VerifyDigest(sd.MessageDigest)
		_ = sd.Verify(bytes.NewReader(doc))
	})
}
