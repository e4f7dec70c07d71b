package gost3410

import (
	"crypto/rand"
	"encoding/binary"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

// TestPMReduce4Carries holds pmReduce4 to math/big on 512-bit inputs whose
// words are picked from the values where its carries run (0, 1, c, all
// ones, 2^64 - c, 2^63) or at random. Products of random field elements
// almost never reach the second fold's carry or the last subtraction's
// boundary; these words do. The reduction is correct for every 512-bit
// input, not only products of reduced elements, so every pick is valid.
func TestPMReduce4Carries(t *testing.T) {
	var c uint64 = 617
	m := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), new(big.Int).SetUint64(c))
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewChaCha8(seed))
	special := []uint64{0, 1, c, ^uint64(0), -uint64(c), 1 << 63}
	word := func() uint64 {
		if i := rng.IntN(len(special) + 1); i < len(special) {
			return special[i]
		}
		return rng.Uint64()
	}
	cases := [][8]uint64{
		{}, // zero
		{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)},
		{-uint64(c), ^uint64(0), ^uint64(0), ^uint64(0)},          // m itself
		{-uint64(c) - 1, ^uint64(0), ^uint64(0), ^uint64(0)},      // m - 1
		{-uint64(c) + 1, ^uint64(0), ^uint64(0), ^uint64(0)},      // m + 1
		{^uint64(0) - c*c, ^uint64(0), ^uint64(0), ^uint64(0), c}, // second fold lands on 2^256 - 1
	}
	for range 200000 {
		var w [8]uint64
		for i := range w {
			w[i] = word()
		}
		cases = append(cases, w)
	}
	var buf [64]byte
	for _, w := range cases {
		for i := range w {
			binary.BigEndian.PutUint64(buf[56-8*i:], w[i])
		}
		want := new(big.Int).SetBytes(buf[:])
		want.Mod(want, m)
		var z [4]uint64
		pmReduce4(&z, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], c)
		if got := fromLimbs(&z); got.Cmp(want) != 0 {
			t.Fatalf("pmReduce4(%x) = %x, want %x", w, got, want)
		}
	}
}

// TestPMAgainstMontgomery compares the pseudo-Mersenne multiplication and
// squaring with the Montgomery ones on the same modulus over many random
// operands: two independent reductions that must agree on every product.
func TestPMAgainstMontgomery(t *testing.T) {
	pm, err := newField[[4]uint64](tc26256A.p)
	if err != nil {
		t.Fatal(err)
	}
	mont, err := newMontField[[4]uint64](tc26256A.p)
	if err != nil {
		t.Fatal(err)
	}
	if pm.c == 0 || mont.c != 0 {
		t.Fatal("want one pseudo-Mersenne and one Montgomery field")
	}
	for range 20000 {
		x, _ := rand.Int(rand.Reader, tc26256A.p)
		y, _ := rand.Int(rand.Reader, tc26256A.p)
		px, py := pm.fromBig(x), pm.fromBig(y)
		mx, my := mont.fromBig(x), mont.fromBig(y)
		var pz, mz [4]uint64
		pm.mul(&pz, &px, &py)
		mont.mul(&mz, &mx, &my)
		if pm.toBig(&pz).Cmp(mont.toBig(&mz)) != 0 {
			t.Fatalf("mul(%x, %x): pseudo-Mersenne and Montgomery differ", x, y)
		}
		pm.sqr(&pz, &px)
		mont.sqr(&mz, &mx)
		if pm.toBig(&pz).Cmp(mont.toBig(&mz)) != 0 {
			t.Fatalf("sqr(%x): pseudo-Mersenne and Montgomery differ", x)
		}
	}
}
