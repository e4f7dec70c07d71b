package gostx509

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// TestVerifyDigest signs digests with each algorithm's key and checks them
// with the certificate, as XML signature code does.
func TestVerifyDigest(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			p := newPKI(t, alg)
			ds, err := NewDigestSigner(p.leafKey, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			h := alg.NewHash()
			h.Write([]byte("<SignedInfo/>"))
			digest := h.Sum(nil)
			sig, err := ds.SignDigest(t.Context(), digest)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Algorithm(p.leaf); err != nil || got != alg {
				t.Fatalf("Algorithm = %v, %v", got, err)
			}
			other := allAlgorithms[0]
			if alg == other {
				other = allAlgorithms[1]
			}
			flipped := append([]byte(nil), sig...)
			flipped[len(flipped)-1] ^= 1
			otherDigest := append([]byte(nil), digest...)
			otherDigest[0] ^= 1
			for _, tc := range []struct {
				name         string
				claimed      signer.Algorithm
				digest, sig  []byte
				want         error
				viaAlgorithm bool
			}{
				{"good", alg, digest, sig, nil, false},
				{"good, algorithm named", alg, digest, sig, nil, true},
				{"another algorithm named", other, digest, sig, ErrAlgorithmMismatch, true},
				{"flipped bit", alg, digest, flipped, ErrBadSignature, false},
				{"other digest", alg, otherDigest, sig, ErrBadSignature, false},
				{"short signature", alg, digest, sig[1:], ErrBadSignature, false},
				{"short digest", alg, digest[1:], sig, ErrAlgorithmMismatch, false},
				{"zero signature", alg, digest, make([]byte, len(sig)), ErrBadSignature, false},
			} {
				var err error
				if tc.viaAlgorithm {
					err = VerifyDigestWithAlgorithm(p.leaf, tc.claimed, tc.digest, tc.sig)
				} else {
					err = VerifyDigest(p.leaf, tc.digest, tc.sig)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
			}
			// The issuing CA's key does not verify the doctor's signature.
			if err := VerifyDigest(p.inter.Certificate, digest, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("another key: %v", err)
			}
		})
	}
}
