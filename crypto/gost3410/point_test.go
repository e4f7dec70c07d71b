package gost3410

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// scalarCases are the scalars the fast arithmetic is compared with the
// math/big oracle on: the edges (0, 1, 2, the comb's digit boundaries,
// q-2, q-1) and random ones.
func scalarCases(t *testing.T, c *Curve, random int) []*big.Int {
	t.Helper()
	one := big.NewInt(1)
	ks := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2), big.NewInt(3),
		big.NewInt(15), big.NewInt(16), big.NewInt(17), big.NewInt(255), big.NewInt(256),
		new(big.Int).Sub(c.q, big.NewInt(2)), new(big.Int).Sub(c.q, one),
		new(big.Int).Rsh(c.q, 1),
		new(big.Int).Sub(new(big.Int).Lsh(one, uint(c.q.BitLen()-1)), one), // all ones below the top bit
		new(big.Int).Lsh(one, uint(c.q.BitLen()-1)),
	}
	for range random {
		k, err := rand.Int(rand.Reader, c.q)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

func samePoint(got struct {
	x, y *big.Int
	inf  bool
}, want bigPoint) bool {
	if got.inf || want.inf {
		return got.inf == want.inf
	}
	return got.x.Cmp(want.x) == 0 && got.y.Cmp(want.y) == 0
}

// TestBaseMultAgainstOracle compares the signing comb with math/big.
func TestBaseMultAgainstOracle(t *testing.T) {
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			for _, k := range scalarCases(t, c, 20) {
				x, y, inf := c.fast.baseMult(k)
				want := c.bigScalarMult(c.basePoint(), k)
				if !samePoint(struct {
					x, y *big.Int
					inf  bool
				}{x, y, inf}, want) {
					t.Fatalf("k = %X: fast (%X, %X, inf=%v), oracle (%X, %X, inf=%v)", k, x, y, inf, want.x, want.y, want.inf)
				}
			}
		})
	}
}

// TestDoubleMultAgainstOracle compares verification's u1·P + u2·Q with
// math/big, on random scalars and on the cases where the additions meet
// their exceptional inputs: Q = ±P with u2 = ±u1 (the running sum equal
// to, or the negation of, the point added), u1 or u2 zero, and sums that
// are the point at infinity.
func TestDoubleMultAgainstOracle(t *testing.T) {
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			P := c.basePoint()
			negP := bigPoint{x: P.x, y: new(big.Int).Sub(c.p, P.y)}
			d, err := rand.Int(rand.Reader, c.q)
			if err != nil {
				t.Fatal(err)
			}
			d.Add(d, big.NewInt(1)) // may equal q: then Q = O, skipped below
			Q := c.bigScalarMult(P, d)
			if Q.inf {
				t.Skip("the random key was q")
			}
			ks := scalarCases(t, c, 3)
			// The oracle is slow: remember each k·X it computes.
			memo := map[string]bigPoint{}
			mult := func(pt bigPoint, k *big.Int) bigPoint {
				key := pt.x.String() + "," + pt.y.String() + "," + k.String()
				if r, ok := memo[key]; ok {
					return r
				}
				r := c.bigScalarMult(pt, k)
				memo[key] = r
				return r
			}
			type tcase struct {
				u1, u2 *big.Int
				q      bigPoint
			}
			var cases []tcase
			for _, u1 := range ks {
				for _, u2 := range ks[len(ks)-4:] {
					cases = append(cases, tcase{u1, u2, Q})
				}
				cases = append(cases,
					tcase{u1, u1, P},                                  // 2·u1·P
					tcase{u1, new(big.Int).Sub(c.q, u1), P},           // O
					tcase{u1, u1, negP},                               // O
					tcase{u1, big.NewInt(0), Q},                       // u1·P
					tcase{big.NewInt(0), u1, Q},                       // u1·Q
					tcase{u1, new(big.Int).Add(u1, big.NewInt(1)), P}, // (2u1+1)·P
				)
			}
			for _, tc := range cases {
				want := c.bigAdd(mult(P, tc.u1), mult(tc.q, tc.u2))
				x, y, inf := c.fast.doubleMult(tc.u1, tc.u2, tc.q.x, tc.q.y)
				if !samePoint(struct {
					x, y *big.Int
					inf  bool
				}{x, y, inf}, want) {
					t.Fatalf("u1 = %X, u2 = %X: fast (%X, %X, inf=%v), oracle %+v", tc.u1, tc.u2, x, y, inf, want)
				}
				// verifyX accepts exactly x mod q.
				if want.inf {
					if c.fast.verifyX(tc.u1, tc.u2, tc.q.x, tc.q.y, big.NewInt(1)) {
						t.Fatal("verifyX accepted the point at infinity")
					}
					continue
				}
				r := new(big.Int).Mod(want.x, c.q)
				if !c.fast.verifyX(tc.u1, tc.u2, tc.q.x, tc.q.y, r) {
					t.Fatalf("u1 = %X, u2 = %X: verifyX refused x mod q", tc.u1, tc.u2)
				}
				r.Add(r, big.NewInt(1))
				if c.fast.verifyX(tc.u1, tc.u2, tc.q.x, tc.q.y, r) {
					t.Fatalf("u1 = %X, u2 = %X: verifyX accepted x mod q + 1", tc.u1, tc.u2)
				}
			}
		})
	}
}

// TestVerifyXLargeX covers the cofactor-4 sets, where q < p/3 and x(C)
// can be r + j·q for j up to 3: verifyX must find each.
func TestVerifyXLargeX(t *testing.T) {
	for _, c := range []*Curve{tc26256A, tc26512C} {
		t.Run(c.Name, func(t *testing.T) {
			seen := map[int64]bool{}
			for i := 0; i < 200 && len(seen) < 3; i++ {
				u1, err := rand.Int(rand.Reader, c.q)
				if err != nil {
					t.Fatal(err)
				}
				C := c.bigScalarMult(c.basePoint(), u1)
				if C.inf {
					continue
				}
				j := new(big.Int).Quo(C.x, c.q).Int64()
				seen[j] = true
				r := new(big.Int).Mod(C.x, c.q)
				if !c.fast.verifyX(u1, big.NewInt(0), c.gx, c.gy, r) {
					t.Fatalf("x = r + %d·q not found", j)
				}
			}
			if len(seen) < 3 {
				t.Errorf("only saw x = r + j·q for j in %v", seen)
			}
		})
	}
}

// TestWNAF checks the recoding: digits odd and below 2^(w-1) in magnitude,
// no two non-zero digits closer than w, and the sum equal to k.
func TestWNAF(t *testing.T) {
	c := tc26512A
	for _, k := range scalarCases(t, c, 50) {
		for _, w := range []uint{wP, wQ} {
			kl := toLimbs[[8]uint64](k)
			digits := wnaf(&kl, w)
			sum := new(big.Int)
			last := -int(w)
			for i := len(digits) - 1; i >= 0; i-- {
				d := int64(digits[i])
				sum.Lsh(sum, 1)
				sum.Add(sum, big.NewInt(d))
				if d == 0 {
					continue
				}
				if d%2 == 0 || d >= 1<<(w-1) || d <= -(1<<(w-1)) {
					t.Fatalf("digit %d at %d", d, i)
				}
			}
			for i, d := range digits {
				if d != 0 {
					if i-last < int(w) {
						t.Fatalf("non-zero digits at %d and %d, closer than %d", last, i, w)
					}
					last = i
				}
			}
			if sum.Cmp(k) != 0 {
				t.Fatalf("wNAF(%X, %d) sums to %X", k, w, sum)
			}
		}
	}
}

// TestConcurrentFirstUse signs and verifies from several goroutines on a
// curve whose tables are not built yet: the lazy build must be safe (run
// with -race) and every goroutine must see the finished tables.
func TestConcurrentFirstUse(t *testing.T) {
	for _, spec := range []curveSpec{cryptoProA, cryptoProC} {
		c, err := newCurve(spec.named("fresh copy", 1, 2, 3, 4))
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() {
				key, err := GenerateKey(c, rand.Reader)
				if err != nil {
					errs <- err
					return
				}
				digest := make([]byte, c.Size())
				rand.Read(digest)
				sig, err := key.SignDigest(rand.Reader, digest)
				if err != nil {
					errs <- err
					return
				}
				errs <- VerifyDigest(&key.PublicKey, digest, sig)
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}
