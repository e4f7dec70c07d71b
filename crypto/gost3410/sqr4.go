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
// propagated through the words above at once. What is left in t4…t7 and
// pend (the ninth word) is below 2·m, and one conditional subtraction ends
// it.
func montRedc4(z *[4]uint64, t0, t1, t2, t3, t4, t5, t6, t7 uint64, m *[4]uint64, m0inv uint64) {
	m0, m1, m2, m3 := m[0], m[1], m[2], m[3]
	var mm, h0, l0, h1, l1, h2, l2, h3, l3, cc, c2, pend uint64
	// step 0: clear t0; its carry lands in t4, then pend at t5.
	mm = t0 * m0inv
	h0, l0 = bits.Mul64(mm, m0)
	h1, l1 = bits.Mul64(mm, m1)
	h2, l2 = bits.Mul64(mm, m2)
	h3, l3 = bits.Mul64(mm, m3)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	_, cc = bits.Add64(t0, l0, 0)
	t1, cc = bits.Add64(t1, l1, cc)
	t2, cc = bits.Add64(t2, l2, cc)
	t3, cc = bits.Add64(t3, l3, cc)
	t4, cc = bits.Add64(t4, h3, cc)
	pend = cc
	// step 1: clear t1; pend from step 0 belongs at t5.
	mm = t1 * m0inv
	h0, l0 = bits.Mul64(mm, m0)
	h1, l1 = bits.Mul64(mm, m1)
	h2, l2 = bits.Mul64(mm, m2)
	h3, l3 = bits.Mul64(mm, m3)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	_, cc = bits.Add64(t1, l0, 0)
	t2, cc = bits.Add64(t2, l1, cc)
	t3, cc = bits.Add64(t3, l2, cc)
	t4, cc = bits.Add64(t4, l3, cc)
	t5, cc = bits.Add64(t5, h3, cc)
	t5, c2 = bits.Add64(t5, pend, 0)
	pend = cc + c2
	// step 2: clear t2; pend belongs at t6.
	mm = t2 * m0inv
	h0, l0 = bits.Mul64(mm, m0)
	h1, l1 = bits.Mul64(mm, m1)
	h2, l2 = bits.Mul64(mm, m2)
	h3, l3 = bits.Mul64(mm, m3)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	_, cc = bits.Add64(t2, l0, 0)
	t3, cc = bits.Add64(t3, l1, cc)
	t4, cc = bits.Add64(t4, l2, cc)
	t5, cc = bits.Add64(t5, l3, cc)
	t6, cc = bits.Add64(t6, h3, cc)
	t6, c2 = bits.Add64(t6, pend, 0)
	pend = cc + c2
	// step 3: clear t3; pend belongs at t7, and what carries out of t7 is
	// the ninth word.
	mm = t3 * m0inv
	h0, l0 = bits.Mul64(mm, m0)
	h1, l1 = bits.Mul64(mm, m1)
	h2, l2 = bits.Mul64(mm, m2)
	h3, l3 = bits.Mul64(mm, m3)
	l1, cc = bits.Add64(l1, h0, 0)
	l2, cc = bits.Add64(l2, h1, cc)
	l3, cc = bits.Add64(l3, h2, cc)
	h3 += cc
	_, cc = bits.Add64(t3, l0, 0)
	t4, cc = bits.Add64(t4, l1, cc)
	t5, cc = bits.Add64(t5, l2, cc)
	t6, cc = bits.Add64(t6, l3, cc)
	t7, cc = bits.Add64(t7, h3, cc)
	t7, c2 = bits.Add64(t7, pend, 0)
	top := cc + c2
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
