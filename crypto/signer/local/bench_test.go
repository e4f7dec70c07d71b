package local

import (
	"context"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// BenchmarkSignDigest measures one signature by the in-process signer,
// ГОСТ beside ECDSA P-256 from the same run (the machine is shared; the
// ratio is the figure), and the matching verification.
func BenchmarkSignDigest(b *testing.B) {
	for _, alg := range []signer.Algorithm{signer.ECDSAP256SHA256, signer.GOST2012_256, signer.GOST2012_512} {
		pki, err := GenerateDevPKI(context.Background(), alg, time.Now(), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		s := pki.Leaf
		h := alg.NewHash()
		h.Write([]byte("<soap:Body/>"))
		digest := h.Sum(nil)
		b.Run("sign/"+alg.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SignDigest(context.Background(), digest); err != nil {
					b.Fatal(err)
				}
			}
		})
		sig, err := s.SignDigest(context.Background(), digest)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("verify/"+alg.String(), func(b *testing.B) {
			for b.Loop() {
				if err := gostx509.VerifyDigest(s.Certificate(), digest, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
