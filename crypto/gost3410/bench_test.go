package gost3410

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// benchSets are the sets the benchmarks time, each beside P-256 in the same
// run (the machine is shared; the ratio is the figure that counts, and the
// cpu-ns/op metric, this process's CPU time, is steadier than wall time).
var benchSets = []struct {
	name  string
	curve *Curve
}{
	{"gost256-A", tc26256A},
	{"cryptopro-A", cryptoProAParamSet},
	{"cryptopro-B", cryptoProBParamSet},
	{"gost512-A", tc26512A},
}

// timed runs op in the benchmark loop and reports its CPU time per call.
func timed(b *testing.B, op func() error) {
	report := testtool.ReportCPU(b)
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	report()
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
			timed(b, func() error { return VerifyDigest(&priv.PublicKey, digest, sig) })
		})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := sha256.Sum256([]byte("benchmark"))
	sig, _ := ecdsa.SignASN1(rand.Reader, p256, hash[:])
	b.Run("p256", func(b *testing.B) {
		timed(b, func() error {
			if !ecdsa.VerifyASN1(&p256.PublicKey, hash[:], sig) {
				return ErrVerification
			}
			return nil
		})
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
			timed(b, func() error {
				_, err := priv.SignDigest(rand.Reader, digest)
				return err
			})
		})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := sha256.Sum256([]byte("benchmark"))
	b.Run("p256", func(b *testing.B) {
		timed(b, func() error {
			_, err := ecdsa.SignASN1(rand.Reader, p256, hash[:])
			return err
		})
	})
}

// BenchmarkParsePublicKey times UnmarshalPublicKeyRaw, which every
// certificate's key goes through. On the cofactor-4 sets (tc26 256 A,
// tc26 512 C) it includes the subgroup check q·Q = O, a scalar
// multiplication costing most of a verification; on the others it is the
// on-curve check alone. Beside it, crypto/ecdsa parsing a P-256 point.
func BenchmarkParsePublicKey(b *testing.B) {
	for _, set := range benchSets {
		priv, err := GenerateKey(set.curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		raw := priv.PublicKey.MarshalRaw()
		b.Run(set.name, func(b *testing.B) {
			timed(b, func() error {
				_, err := UnmarshalPublicKeyRaw(set.curve, raw)
				return err
			})
		})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, err := p256.PublicKey.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("p256", func(b *testing.B) {
		timed(b, func() error {
			_, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
			return err
		})
	})
}
