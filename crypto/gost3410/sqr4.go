package gost3410

import "math/bits"

// Squaring over four limbs, for both reductions: the double-width square
// costs ten word products instead of a multiplication's sixteen, and a
// doubling of a point squares eight times for its two multiplications.

// sqr4 sets z = x² reduced as the field reduces it: x² mod m when c ≠ 0
// (m = 2^256 - c, pmReduce4), x²·2^-256 mod m otherwise (Montgomery, with
// m0inv = -m⁻¹ mod 2⁶⁴; montRedc4). x must be below m. The square is the
// six products x_i·x_j with i < j once, doubled by a shift, plus the four
// squares on the diagonal; it is written once here for both reductions
// and not in a function of its own, whose eight results would go through
// memory on every call.
func sqr4(z, x, m *[4]uint64, m0inv, c uint64) {
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	var t0, t1, t2, t3, t4, t5, t6, t7, h, l, cc uint64
	t2, t1 = bits.Mul64(x0, x1)
	h, l = bits.Mul64(x0, x2)
	t2, cc = bits.Add64(t2, l, 0)
	t3 = h + cc
	h, l = bits.Mul64(x0, x3)
	t3, cc = bits.Add64(t3, l, 0)
	t4 = h + cc
	h, l = bits.Mul64(x1, x2)
	t3, cc = bits.Add64(t3, l, 0)
	t4, cc = bits.Add64(t4, h, cc)
	t5 = cc
	h, l = bits.Mul64(x1, x3)
	t4, cc = bits.Add64(t4, l, 0)
	t5 += h + cc // the sum so far is below 2^384, so t5 cannot overflow
	h, l = bits.Mul64(x2, x3)
	t5, cc = bits.Add64(t5, l, 0)
	t6 = h + cc
	// Double the off-diagonal sum (below 2^448, so 2^511 at most after).
	t7 = t6 >> 63
	t6 = t6<<1 | t5>>63
	t5 = t5<<1 | t4>>63
	t4 = t4<<1 | t3>>63
	t3 = t3<<1 | t2>>63
	t2 = t2<<1 | t1>>63
	t1 <<= 1
	// Add the diagonal.
	h, t0 = bits.Mul64(x0, x0)
	t1, cc = bits.Add64(t1, h, 0)
	h, l = bits.Mul64(x1, x1)
	t2, cc = bits.Add64(t2, l, cc)
	t3, cc = bits.Add64(t3, h, cc)
	h, l = bits.Mul64(x2, x2)
	t4, cc = bits.Add64(t4, l, cc)
	t5, cc = bits.Add64(t5, h, cc)
	h, l = bits.Mul64(x3, x3)
	t6, cc = bits.Add64(t6, l, cc)
	t7, _ = bits.Add64(t7, h, cc)
	if c != 0 {
		pmReduce4(z, t0, t1, t2, t3, t4, t5, t6, t7, c)
		return
	}
	montRedc4(z, t0, t1, t2, t3, t4, t5, t6, t7, m, m0inv)
}

// montRedc4 sets z = t·2^-256 mod m for t < m·2^256 (REDC). Each step adds
// mm·m·2^(64·i), with mm chosen to clear word i; the carry out of word i+4
// is kept in pend and added at word i+5 by the next step instead of being
// propagated through the words above at once (pend is at most 2, and the
// row's top word at most 2^64 - 2, so adding it to that word carries at
// most once). What is left in t4…t7 and the ninth word is below 2·m, and
// one conditional subtraction ends it.
func montRedc4(z *[4]uint64, t0, t1, t2, t3, t4, t5, t6, t7 uint64, m *[4]uint64, m0inv uint64) {
	m0, m1, m2, m3 := m[0], m[1], m[2], m[3]
	var r0, r1, r2, r3, r4, cc, pend uint64
	// step 0: clear t0; what carries out of t4 is pend, owed to t5.
	r0, r1, r2, r3, r4 = mulRow4(m0, m1, m2, m3, t0*m0inv)
	_, t1, t2, t3, t4, pend = addRow4c(t0, t1, t2, t3, t4, r0, r1, r2, r3, r4)
	// step 1: clear t1; pend goes in at t5 with the row's top word.
	r0, r1, r2, r3, r4 = mulRow4(m0, m1, m2, m3, t1*m0inv)
	r4, cc = bits.Add64(r4, pend, 0)
	_, t2, t3, t4, t5, pend = addRow4c(t1, t2, t3, t4, t5, r0, r1, r2, r3, r4)
	pend += cc
	// step 2: clear t2.
	r0, r1, r2, r3, r4 = mulRow4(m0, m1, m2, m3, t2*m0inv)
	r4, cc = bits.Add64(r4, pend, 0)
	_, t3, t4, t5, t6, pend = addRow4c(t2, t3, t4, t5, t6, r0, r1, r2, r3, r4)
	pend += cc
	// step 3: clear t3; what carries out of t7 is the ninth word.
	r0, r1, r2, r3, r4 = mulRow4(m0, m1, m2, m3, t3*m0inv)
	r4, cc = bits.Add64(r4, pend, 0)
	_, t4, t5, t6, t7, pend = addRow4c(t3, t4, t5, t6, t7, r0, r1, r2, r3, r4)
	top := pend + cc
	// t4…t7 + top·2^256 < 2m: subtract m once if it is ≥ m.
	var d0, d1, d2, d3, b uint64
	d0, b = bits.Sub64(t4, m0, 0)
	d1, b = bits.Sub64(t5, m1, b)
	d2, b = bits.Sub64(t6, m2, b)
	d3, b = bits.Sub64(t7, m3, b)
	_, b = bits.Sub64(top, 0, b)
	mask := -b // all ones when the value is below m: keep it
	z[0] = t4&mask | d0&^mask
	z[1] = t5&mask | d1&^mask
	z[2] = t6&mask | d2&^mask
	z[3] = t7&mask | d3&^mask
}

// addRow4c returns the five words of t + r and the carry out of the top.
func addRow4c(t0, t1, t2, t3, t4, r0, r1, r2, r3, r4 uint64) (s0, s1, s2, s3, s4, carry uint64) {
	var c uint64
	s0, c = bits.Add64(t0, r0, 0)
	s1, c = bits.Add64(t1, r1, c)
	s2, c = bits.Add64(t2, r2, c)
	s3, c = bits.Add64(t3, r3, c)
	s4, carry = bits.Add64(t4, r4, c)
	return
}
