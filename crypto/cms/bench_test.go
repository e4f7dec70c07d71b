package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// BenchmarkVerify50KiB verifies a detached CMS signature over a 50 KiB
// document (parse, Streebog over the document and the attributes, one
// signature check) beside the ECDSA P-256 + SHA-256 floor from the same
// run: sha256 of the same 50 KiB and ecdsa.VerifyASN1. The machine is
// shared and noisy; the ratio of the two is what counts.
func BenchmarkVerify50KiB(b *testing.B) {
	doc := document(50 << 10)
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512, signer.ECDSAP256SHA256} {
		p := newPKI(b, alg)
		der, err := Sign(b.Context(), p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: t0})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("cms/"+alg.String(), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := Verify(der, bytes.NewReader(doc), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw/ecdsa-P256-sha256", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			sum := sha256.Sum256(doc)
			if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
				b.Fatal("does not verify")
			}
		}
	})
}
