package dss

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

// BenchmarkSignDigest measures a DSS signature through the fake on
// loopback (HTTP, JSON, the fake's ГОСТ signing and our verification of
// the answer) beside an in-process ГОСТ and ECDSA P-256 signature from the
// same run. A real DSS adds its network and HSM time on top.
func BenchmarkSignDigest(b *testing.B) {
	f := newFakeDSS(b, signer.GOST2012_256)
	src, err := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, ClientSecret: secret.New(f.clientSecret)})
	if err != nil {
		b.Fatal(err)
	}
	remote, err := New(context.Background(), Config{BaseURL: f.baseURL(), Auth: src, PIN: secret.New(f.pin), Logger: quiet(&bytes.Buffer{})})
	if err != nil {
		b.Fatal(err)
	}
	ec, err := local.GenerateDevPKI(context.Background(), signer.ECDSAP256SHA256, time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		s    signer.Signer
	}{
		{"in-process " + signer.ECDSAP256SHA256.String(), ec.Leaf},
		{"in-process " + signer.GOST2012_256.String(), f.key},
		{"dss-fake-loopback " + signer.GOST2012_256.String(), remote},
	} {
		digest := digestOf(bc.s.Algorithm(), "<soap:Body/>")
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.s.SignDigest(context.Background(), digest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
