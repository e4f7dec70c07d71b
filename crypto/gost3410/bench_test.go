package gost3410

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// benchSets are the sets the benchmarks time, each beside P-256 in the same
// run (the machine is shared; the ratio is the figure that counts).
var benchSets = []struct {
	name  string
	curve *Curve
}{
	{"gost256-A", tc26256A},
	{"cryptopro-A", cryptoProAParamSet},
	{"gost512-A", tc26512A},
}

func BenchmarkVerify(b *testing.B) {
	for _, set := range benchSets {
		priv, err := GenerateKey(set.curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		digest := make([]byte, set.curve.Size())
		rand.Read(digest)
		sig, err := priv.SignDigest(rand.Reader, digest)
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyDigest(&priv.PublicKey, digest, sig); err != nil {
			b.Fatal(err)
		}
		b.Run(set.name, func(b *testing.B) {
			for b.Loop() {
				if err := VerifyDigest(&priv.PublicKey, digest, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := sha256.Sum256([]byte("benchmark"))
	sig, _ := ecdsa.SignASN1(rand.Reader, p256, hash[:])
	b.Run("p256", func(b *testing.B) {
		for b.Loop() {
			if !ecdsa.VerifyASN1(&p256.PublicKey, hash[:], sig) {
				b.Fatal("P-256 signature does not verify")
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	for _, set := range benchSets {
		priv, err := GenerateKey(set.curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		digest := make([]byte, set.curve.Size())
		rand.Read(digest)
		b.Run(set.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := priv.SignDigest(rand.Reader, digest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := sha256.Sum256([]byte("benchmark"))
	b.Run("p256", func(b *testing.B) {
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, p256, hash[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
