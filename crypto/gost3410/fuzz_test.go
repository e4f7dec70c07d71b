package gost3410

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
)

// FuzzVerifyDigest feeds arbitrary keys, digests and signatures to
// VerifyDigest on a 256- and a 512-bit set: it must never panic, must
// return one of the package's errors or nil, and may return nil only for
// the signature made by the seed key (anything else would be a forgery
// found by the fuzzer).
func FuzzVerifyDigest(f *testing.F) {
	type fixture struct {
		curve  *Curve
		key    *PrivateKey
		digest []byte
		sig    []byte
	}
	// The fuzzing workers are separate processes that each build the
	// fixtures again, so the keys and signatures must not be random.
	var fixtures []fixture
	for _, c := range []*Curve{tc26256A, tc26512C} {
		key, err := NewPrivateKey(c, big.NewInt(0x1234567))
		if err != nil {
			f.Fatal(err)
		}
		digest := bytes.Repeat([]byte{0x5a}, c.Size())
		sig, err := key.SignDigest(bytes.NewReader(bytes.Repeat([]byte{0xa7}, 4*c.Size())), digest)
		if err != nil {
			f.Fatal(err)
		}
		fixtures = append(fixtures, fixture{c, key, digest, sig})
		f.Add(uint8(len(fixtures)-1), key.PublicKey.MarshalRaw(), digest, sig)
		f.Add(uint8(len(fixtures)-1), key.PublicKey.MarshalRaw(), digest[1:], sig)
		f.Add(uint8(len(fixtures)-1), make([]byte, 2*c.Size()), digest, make([]byte, 2*c.Size()))
	}
	f.Fuzz(func(t *testing.T, which uint8, rawKey, digest, sig []byte) {
		fx := fixtures[int(which)%len(fixtures)]
		pub, err := UnmarshalPublicKeyRaw(fx.curve, rawKey)
		if err != nil {
			if !errors.Is(err, ErrInvalidPublicKey) {
				t.Fatalf("UnmarshalPublicKeyRaw: unexpected error %v", err)
			}
			pub = &fx.key.PublicKey
		}
		err = VerifyDigest(pub, digest, sig)
		switch {
		case err == nil:
			if !bytes.Equal(pub.MarshalRaw(), fx.key.PublicKey.MarshalRaw()) || !bytes.Equal(digest, fx.digest) {
				t.Fatal("a signature verified under a key or digest it was not made for")
			}
		case errors.Is(err, ErrVerification), errors.Is(err, ErrDigestLength),
			errors.Is(err, ErrSignatureLength), errors.Is(err, ErrSignatureRange),
			errors.Is(err, ErrInvalidPublicKey):
		default:
			t.Fatalf("VerifyDigest: unexpected error %v", err)
		}
	})
}

// FuzzUnmarshalPublicKeyRaw checks that parsing never panics, that what
// it accepts is on the curve and re-encodes to the same bytes.
func FuzzUnmarshalPublicKeyRaw(f *testing.F) {
	for _, c := range []*Curve{tc26256A, cryptoProAParamSet, tc26512A} {
		key, err := GenerateKey(c, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(key.PublicKey.MarshalRaw())
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 128))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, c := range Curves() {
			pub, err := UnmarshalPublicKeyRaw(c, raw)
			if err != nil {
				if !errors.Is(err, ErrInvalidPublicKey) {
					t.Fatalf("%s: unexpected error %v", c.Name, err)
				}
				continue
			}
			if !c.isOnCurve(pub.X, pub.Y) {
				t.Fatalf("%s: accepted a point off the curve", c.Name)
			}
			if !bytes.Equal(pub.MarshalRaw(), raw) {
				t.Fatalf("%s: re-encoding differs", c.Name)
			}
		}
	})
}
