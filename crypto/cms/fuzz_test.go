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

// FuzzBERToDER: what berToDER returns is DER that converts to itself.
func FuzzBERToDER(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0x41, 0x04, 0x01, 0x42, 0, 0, 0, 0})
	f.Add([]byte{0x30, 0x81, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x1f, 0x81, 0x01, 0x00})
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x41})
	f.Add([]byte{0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, ber []byte) {
		// What derElement passes as DER, converting leaves as it is.
		if rest, err := derElement(ber, 0); err == nil && len(rest) == 0 {
			if conv, err := convertBER(ber); err != nil || !bytes.Equal(conv, ber) {
				t.Fatalf("%x passed as DER, but converts to %x, %v", ber, conv, err)
			}
		}
		der, err := berToDER(ber)
		if err != nil {
			return
		}
		again, err := berToDER(der)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("berToDER(%x) = %x, which converts to %x, %v", ber, der, again, err)
		}
	})
}
