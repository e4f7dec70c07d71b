package gost3410

import (
	"math/big"
	"math/bits"
)

// Arithmetic modulo a pseudo-Mersenne prime m = 2^256 - c with a small c.
// Four of the 256-bit sets have such a p, 2^256 - 617: tc26 256 A and B,
// CryptoPro A and XchA, the sets most ГОСТ certificates use. Since
// 2^256 ≡ c (mod m), the high half H of a double-width product H·2^256 + L
// is folded in as L + c·H: four word multiplications where Montgomery
// reduction takes sixteen (squares: sqr4.go). Elements are plain residues
// in [0, m): the field's R is 1, so toMont and fromMont are
// multiplications by 1 and the rest of the code does not need to know.
//
// The 512-bit sets with p = 2^512 - 569 (tc26 512 A and C) stay on
// Montgomery: the same algorithm over eight words in loops measured slower
// than gen_mont.go's unrolled rows (1.7 ms a verification against 1.1).

// pmMaxC bounds c: with c < 2^32 the second fold (the carry word, at most
// c, times c) fits one word and cannot carry out twice.
const pmMaxC = 1 << 32

// pseudoMersenneC returns c when m = 2^bits - c with 0 < c < pmMaxC.
func pseudoMersenneC(m *big.Int, nbits int) (uint64, bool) {
	c := new(big.Int).Lsh(big.NewInt(1), uint(nbits))
	c.Sub(c, m)
	if c.Sign() <= 0 || c.Cmp(big.NewInt(pmMaxC)) >= 0 {
		return 0, false
	}
	return c.Uint64(), true
}

// pmMul4 sets z = x·y mod 2^256 - c for x, y < 2^256 - c; z may alias x or y.
// The product is operand-scanned one word of y at a time (mulRow4,
// addRow4).
func pmMul4(z, x, y *[4]uint64, c uint64) {
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	var t0, t1, t2, t3, t4, t5, t6, t7 uint64
	var r0, r1, r2, r3, r4 uint64
	t0, t1, t2, t3, t4 = mulRow4(x0, x1, x2, x3, y[0])
	r0, r1, r2, r3, r4 = mulRow4(x0, x1, x2, x3, y[1])
	t1, t2, t3, t4, t5 = addRow4(t1, t2, t3, t4, 0, r0, r1, r2, r3, r4)
	r0, r1, r2, r3, r4 = mulRow4(x0, x1, x2, x3, y[2])
	t2, t3, t4, t5, t6 = addRow4(t2, t3, t4, t5, 0, r0, r1, r2, r3, r4)
	r0, r1, r2, r3, r4 = mulRow4(x0, x1, x2, x3, y[3])
	t3, t4, t5, t6, t7 = addRow4(t3, t4, t5, t6, 0, r0, r1, r2, r3, r4)
	pmReduce4(z, t0, t1, t2, t3, t4, t5, t6, t7, c)
}

// mulRow4 returns the five words of (x3:x2:x1:x0)·y. It is small enough
// to be inlined, so the rows of a product stay in registers.
func mulRow4(x0, x1, x2, x3, y uint64) (r0, r1, r2, r3, r4 uint64) {
	var h0, c uint64
	h0, r0 = bits.Mul64(x0, y)
	h1, l1 := bits.Mul64(x1, y)
	h2, l2 := bits.Mul64(x2, y)
	h3, l3 := bits.Mul64(x3, y)
	r1, c = bits.Add64(l1, h0, 0)
	r2, c = bits.Add64(l2, h1, c)
	r3, c = bits.Add64(l3, h2, c)
	r4 = h3 + c
	return
}

// addRow4 returns the five words of t + r, both five words. The callers'
// sums are products and partial products that fit five words, so no
// carry leaves the top one.
func addRow4(t0, t1, t2, t3, t4, r0, r1, r2, r3, r4 uint64) (s0, s1, s2, s3, s4 uint64) {
	var c uint64
	s0, c = bits.Add64(t0, r0, 0)
	s1, c = bits.Add64(t1, r1, c)
	s2, c = bits.Add64(t2, r2, c)
	s3, c = bits.Add64(t3, r3, c)
	s4 = t4 + r4 + c
	return
}

// pmReduce4 sets z = t mod 2^256 - c for a product t < (2^256 - c)² given
// as eight words.
func pmReduce4(z *[4]uint64, t0, t1, t2, t3, t4, t5, t6, t7, c uint64) {
	// t0..t4 = t0..t3 + c·(t4..t7)
	r0, r1, r2, r3, r4 := mulRow4(t4, t5, t6, t7, c)
	t0, t1, t2, t3, t4 = addRow4(t0, t1, t2, t3, 0, r0, r1, r2, r3, r4)
	var cc uint64
	// t4 ≤ c, so c·t4 < 2^64 (c < 2^32) and folds into one word.
	t0, cc = bits.Add64(t0, t4*c, 0)
	t1, cc = bits.Add64(t1, 0, cc)
	t2, cc = bits.Add64(t2, 0, cc)
	t3, cc = bits.Add64(t3, 0, cc)
	// The value is now t + cc·2^256 < 2^256 + 2^64, and at most one m
	// needs to come off. Subtracting m is adding c and dropping 2^256:
	// d = t + c. With cc = 1, t wrapped to below 2^64, d does not carry
	// and is the answer; with cc = 0, t ≥ m exactly when d carries (b = 1)
	// and d is then t - m.
	var d0, d1, d2, d3, b uint64
	d0, b = bits.Add64(t0, c, 0)
	d1, b = bits.Add64(t1, 0, b)
	d2, b = bits.Add64(t2, 0, b)
	d3, b = bits.Add64(t3, 0, b)
	mask := -(cc | b)
	z[0] = t0&^mask | d0&mask
	z[1] = t1&^mask | d1&mask
	z[2] = t2&^mask | d2&mask
	z[3] = t3&^mask | d3&mask
}
