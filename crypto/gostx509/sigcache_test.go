package gostx509

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// TestSignatureCacheNeverChangesAnOutcome verifies the same certificates
// with a cached and an uncached Verifier, twice each, and wants the same
// outcome every time: a good chain, a certificate checked outside its
// validity after it was cached as good, and a forged signature, which is
// never cached.
func TestSignatureCacheNeverChangesAnOutcome(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	ca, err := NewTestCA(ctx, signer.GOST2012_256, Subject{CommonName: "Root"}, now.Add(-time.Hour), now.Add(time.Hour), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, leaf, err := ca.IssueKey(ctx, signer.GOST2012_256, SigningTemplate(Subject{CommonName: "Leaf", SNILS: "12345678964"}, now.Add(-time.Minute), now.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	forgedDER := append([]byte(nil), leaf.Raw...)
	forgedDER[len(forgedDER)-1] ^= 1 // the signature is the certificate's last field
	forged, err := x509.ParseCertificate(forgedDER)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}, SignatureCacheSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		at   time.Time
		want error
	}{
		{"good", leaf, now, nil},
		{"good, cached, but expired at the time asked", leaf, now.Add(time.Hour), ErrExpired},
		{"good, cached, not yet valid at the time asked", leaf, now.Add(-time.Hour), ErrNotYetValid},
		{"forged signature", forged, now, ErrBadSignature},
		{"forged signature again", forged, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []*Verifier{plain, cached, cached} {
				_, err := v.Verify(tc.cert, VerifyOptions{At: tc.at, Now: now})
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Errorf("got %v, want %v", err, tc.want)
				}
			}
		})
	}
	if !cached.sigs.known(pairKey(leaf, ca.Certificate)) {
		t.Error("the good pair is not cached")
	}
	if cached.sigs.known(pairKey(forged, ca.Certificate)) {
		t.Error("a forged signature was cached")
	}
}

func TestSignatureCacheIsBounded(t *testing.T) {
	for _, size := range []int{1, 2, 7, 64} {
		c := newSigCache(size)
		var first [32]byte
		for i := range 1000 {
			var k [32]byte
			k[0], k[1] = byte(i), byte(i>>8)
			if i == 0 {
				first = k
			}
			c.add(k)
			if n := len(c.cur) + len(c.prev); n > max(size, 2) {
				t.Fatalf("size %d: %d entries", size, n)
			}
		}
		if c.known(first) {
			t.Errorf("size %d: the oldest entry survived 1000 newer ones", size)
		}
	}
	if newSigCache(0) != nil {
		t.Error("size 0 must mean no cache")
	}
}
