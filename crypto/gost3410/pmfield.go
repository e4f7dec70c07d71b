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

// pmMaxC bounds c: with c < 2^32 the second fold (the carry word times c)
// fits two words and cannot carry out twice.
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
// The product is operand-scanned one word of y at a time: each row's four
// products are added as two carry chains (low halves, then high halves one
// word up).
func pmMul4(z, x, y *[4]uint64, c uint64) {
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	y0, y1, y2, y3 := y[0], y[1], y[2], y[3]
	var t0, t1, t2, t3, t4, t5, t6, t7 uint64
	var h0, l0, h1, l1, h2, l2, h3, l3, cc uint64
	// row 0: t0..t4 = x·y0
	h0, l0 = bits.Mul64(x0, y0)
	h1, l1 = bits.Mul64(x1, y0)
	h2, l2 = bits.Mul64(x2, y0)
	h3, l3 = bits.Mul64(x3, y0)
	t0 = l0
	t1, cc = bits.Add64(h0, l1, 0)
	t2, cc = bits.Add64(h1, l2, cc)
	t3, cc = bits.Add64(h2, l3, cc)
	t4 = h3 + cc
	// row 1: t1..t5 += x·y1
	h0, l0 = bits.Mul64(x0, y1)
	h1, l1 = bits.Mul64(x1, y1)
	h2, l2 = bits.Mul64(x2, y1)
	h3, l3 = bits.Mul64(x3, y1)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	t1, cc = bits.Add64(t1, l0, 0)
	t2, cc = bits.Add64(t2, l1, cc)
	t3, cc = bits.Add64(t3, l2, cc)
	t4, cc = bits.Add64(t4, l3, cc)
	t5 = h3 + cc
	// row 2: t2..t6 += x·y2
	h0, l0 = bits.Mul64(x0, y2)
	h1, l1 = bits.Mul64(x1, y2)
	h2, l2 = bits.Mul64(x2, y2)
	h3, l3 = bits.Mul64(x3, y2)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	t2, cc = bits.Add64(t2, l0, 0)
	t3, cc = bits.Add64(t3, l1, cc)
	t4, cc = bits.Add64(t4, l2, cc)
	t5, cc = bits.Add64(t5, l3, cc)
	t6 = h3 + cc
	// row 3: t3..t7 += x·y3
	h0, l0 = bits.Mul64(x0, y3)
	h1, l1 = bits.Mul64(x1, y3)
	h2, l2 = bits.Mul64(x2, y3)
	h3, l3 = bits.Mul64(x3, y3)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	t3, cc = bits.Add64(t3, l0, 0)
	t4, cc = bits.Add64(t4, l1, cc)
	t5, cc = bits.Add64(t5, l2, cc)
	t6, cc = bits.Add64(t6, l3, cc)
	t7 = h3 + cc
	pmReduce4(z, t0, t1, t2, t3, t4, t5, t6, t7, c)
}

// pmReduce4 sets z = t mod 2^256 - c for a product t < (2^256 - c)² given
// as eight words.
func pmReduce4(z *[4]uint64, t0, t1, t2, t3, t4, t5, t6, t7, c uint64) {
	var h0, l0, h1, l1, h2, l2, h3, l3, cc uint64
	// t0..t4 = t0..t3 + c·(t4..t7)
	h0, l0 = bits.Mul64(t4, c)
	h1, l1 = bits.Mul64(t5, c)
	h2, l2 = bits.Mul64(t6, c)
	h3, l3 = bits.Mul64(t7, c)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	t0, cc = bits.Add64(t0, l0, 0)
	t1, cc = bits.Add64(t1, l1, cc)
	t2, cc = bits.Add64(t2, l2, cc)
	t3, cc = bits.Add64(t3, l3, cc)
	t4 = h3 + cc
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
