package gostx509

import (
	"crypto/x509"
	"testing"
)

// BenchmarkVerifyChain verifies a three-certificate chain (leaf,
// issuing CA, root) for each algorithm, beside crypto/x509's own Verify
// of the ECDSA P-256 chain from the same run: the ratio counts, not the
// figures (the machine is shared).
func BenchmarkVerifyChain(b *testing.B) {
	for _, alg := range allAlgorithms {
		p := newPKI(b, alg)
		v, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{p.root.Certificate}})
		if err != nil {
			b.Fatal(err)
		}
		opts := VerifyOptions{Intermediates: []*x509.Certificate{p.inter.Certificate}, At: t0, Now: t0}
		b.Run("gostx509/"+alg.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(p.leaf, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		if p.leaf.PublicKeyAlgorithm == x509.ECDSA {
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(p.root.Certificate)
			inter.AddCert(p.inter.Certificate)
			xopts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
			b.Run("crypto-x509/"+alg.String(), func(b *testing.B) {
				for b.Loop() {
					if _, err := p.leaf.Verify(xopts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
