package gost3410

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// referenceVerify is RFC 7091 §6.2 step by step over the math/big oracle
// of oracle_test.go (affine points, an inversion per addition): the simple
// path the fast one must agree with. It reports whether sig (s || r) is a
// signature of digest under (qx, qy).
func referenceVerify(c *Curve, qx, qy *big.Int, digest, sig []byte) bool {
	n := c.size
	s := new(big.Int).SetBytes(sig[:n])
	r := new(big.Int).SetBytes(sig[n:])
	if r.Sign() <= 0 || r.Cmp(c.q) >= 0 || s.Sign() <= 0 || s.Cmp(c.q) >= 0 {
		return false
	}
	e := new(big.Int).Mod(leInt(digest), c.q)
	if e.Sign() == 0 {
		e.SetInt64(1)
	}
	v := new(big.Int).ModInverse(e, c.q)
	z1 := new(big.Int).Mod(new(big.Int).Mul(s, v), c.q)
	z2 := new(big.Int).Mod(new(big.Int).Neg(new(big.Int).Mul(r, v)), c.q)
	C := c.bigAdd(c.bigScalarMult(c.basePoint(), z1), c.bigScalarMult(bigPoint{x: qx, y: qy}, z2))
	if C.inf {
		return false
	}
	return new(big.Int).Mod(C.x, c.q).Cmp(r) == 0
}

// TestFastAgainstReferenceRandom runs the fast arithmetic (pseudo-Mersenne
// or Montgomery field, Jacobian points, comb and interleaved wNAF) against
// the math/big reference on fresh random keys, scalars and digests, many
// times per set, so that a speed-up that is wrong for some inputs cannot
// pass on the fixed vectors alone. Each iteration checks
//   - the public key d·P (the signing comb) against the oracle's d·P,
//   - u1·P + u2·Q for random u1, u2 against the oracle,
//   - that a fresh signature verifies on both paths, and that the same
//     signature with r, s or the digest changed is refused by both.
func TestFastAgainstReferenceRandom(t *testing.T) {
	iterations := map[int]int{32: 12, 64: 3}
	if testing.Short() {
		iterations = map[int]int{32: 4, 64: 1}
	}
	randInt := func(t *testing.T, max *big.Int) *big.Int {
		t.Helper()
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			for i := range iterations[c.size] {
				d := new(big.Int).Add(randInt(t, new(big.Int).Sub(c.q, big.NewInt(1))), big.NewInt(1))
				priv, err := NewPrivateKey(c, d)
				if err != nil {
					t.Fatal(err)
				}
				Q := c.bigScalarMult(c.basePoint(), d)
				if Q.inf || Q.x.Cmp(priv.X) != 0 || Q.y.Cmp(priv.Y) != 0 {
					t.Fatalf("iteration %d: fast d·P differs from the oracle's", i)
				}

				u1, u2 := randInt(t, c.q), randInt(t, c.q)
				want := c.bigAdd(c.bigScalarMult(c.basePoint(), u1), c.bigScalarMult(Q, u2))
				x, y, inf := c.fast.doubleMult(u1, u2, Q.x, Q.y)
				if inf != want.inf || (!inf && (x.Cmp(want.x) != 0 || y.Cmp(want.y) != 0)) {
					t.Fatalf("iteration %d: u1·P + u2·Q differs from the oracle (u1 = %X, u2 = %X)", i, u1, u2)
				}

				digest := make([]byte, c.size)
				if _, err := rand.Read(digest); err != nil {
					t.Fatal(err)
				}
				sig, err := priv.SignDigest(rand.Reader, digest)
				if err != nil {
					t.Fatal(err)
				}
				flip := func(b []byte, at int) []byte {
					out := append([]byte(nil), b...)
					out[at] ^= 0x01
					return out
				}
				for _, tc := range []struct {
					name         string
					digest, sig  []byte
					wantAccepted bool
				}{
					{"fresh signature", digest, sig, true},
					{"s changed", digest, flip(sig, c.size-1), false},
					{"r changed", digest, flip(sig, 2*c.size-1), false},
					{"digest changed", flip(digest, 0), sig, false},
				} {
					fast := VerifyDigest(&priv.PublicKey, tc.digest, tc.sig) == nil
					ref := referenceVerify(c, Q.x, Q.y, tc.digest, tc.sig)
					if fast != ref || fast != tc.wantAccepted {
						t.Fatalf("iteration %d, %s: fast accepted = %v, reference accepted = %v, want %v",
							i, tc.name, fast, ref, tc.wantAccepted)
					}
				}
			}
		})
	}
}
