package gost3410

import (
	"math/big"
	"math/bits"
	"sync"
)

// This file is the fast curve arithmetic: Jacobian coordinates over the
// fixed-size field of field.go (pseudo-Mersenne or Montgomery), with the
// general Weierstrass a (a = -3 gets the cheaper doubling), a fixed-base
// comb for k·P when signing and an interleaved wNAF for u1·P + u2·Q when
// verifying. The
// math/big code in oracle_test.go is the oracle the tests hold it to.

// jac is a point in Jacobian coordinates, (X/Z², Y/Z³); Z = 0 is the point
// at infinity. Coordinates are in the Montgomery domain.
type jac[E limbs] struct{ x, y, z E }

// aff is a finite point in affine coordinates, in the Montgomery domain.
type aff[E limbs] struct{ x, y E }

const (
	combBits = 4 // the signing comb's digit width
	combRow  = 1<<combBits - 1
	wP       = 7 // wNAF width for the base point (precomputed, affine)
	wQ       = 5 // wNAF width for the public key (computed per verification)
)

// ecOps is one parameter set's fast arithmetic.
type ecOps[E limbs] struct {
	f       *field[E]
	a       E // Montgomery domain
	aMinus3 bool
	p, q    *big.Int
	g       aff[E]

	// The base point's tables are built on first use.
	once sync.Once
	comb [][combRow]aff[E]     // comb[i][j] = (j+1)·2^(4i)·P
	oddP [1 << (wP - 2)]aff[E] // oddP[j] = (2j+1)·P
}

// fastCurve is what the signature code needs from the arithmetic, for
// either limb count. Scalars are non-negative integers below 2^(64·limbs)
// (in practice at most q); points are affine big.Int coordinates already
// checked to be on the curve.
type fastCurve interface {
	// baseMult returns k·P; inf reports the point at infinity.
	baseMult(k *big.Int) (x, y *big.Int, inf bool)
	// doubleMult returns u1·P + u2·(qx, qy).
	doubleMult(u1, u2, qx, qy *big.Int) (x, y *big.Int, inf bool)
	// verifyX reports whether u1·P + u2·(qx, qy) is finite with an x
	// coordinate ≡ r (mod q), without leaving Jacobian coordinates.
	verifyX(u1, u2, qx, qy, r *big.Int) bool
}

func newECOps[E limbs](c *Curve) (*ecOps[E], error) {
	f, err := newField[E](c.p)
	if err != nil {
		return nil, err
	}
	o := &ecOps[E]{f: f, p: c.p, q: c.q}
	o.a = f.fromBig(c.a)
	o.aMinus3 = new(big.Int).Add(c.a, big.NewInt(3)).Cmp(c.p) == 0
	o.g = aff[E]{x: f.fromBig(c.gx), y: f.fromBig(c.gy)}
	return o, nil
}

// double sets r = 2·p in Jacobian coordinates. The point at infinity and
// points with y = 0 come out with Z = 0 on their own.
//
// The formulas are those of dbl-2001-b (a = -3) and dbl-2007-bl (any a)
// with the squarings that only stand in for products undone: here a
// square costs nearly what a product does, while each of the additions
// the squaring tricks need costs a quarter of one. So S = 4·X·Y² is
// 2·X·(2·Y²), 8·Y⁴ is 2·(2·Y²)², and Z3 = 2·Y·Z rather than
// (Y + Z)² - Y² - Z²: 4 multiplications, 4 squarings and 12 additions for
// a = -3 (was 3, 5 and 16), 4, 6 and 11 for any a (was 2, 8 and 17).
func (o *ecOps[E]) double(r, p *jac[E]) {
	f := o.f
	var yy2, y8, zz, s, m, t, u, z3 E
	// 2·YY, then S = X·2YY·2 = 4·X·YY and 8·YYYY = (2·YY)²·2.
	f.sqr(&yy2, &p.y)
	f.add(&yy2, &yy2, &yy2)
	f.mul(&s, &p.x, &yy2)
	f.add(&s, &s, &s)
	f.sqr(&y8, &yy2)
	f.add(&y8, &y8, &y8)
	f.sqr(&zz, &p.z)
	if o.aMinus3 {
		// M = 3·(X - ZZ)·(X + ZZ) = 3·X² - 3·ZZ².
		f.sub(&t, &p.x, &zz)
		f.add(&u, &p.x, &zz)
		f.mul(&m, &t, &u)
		f.add(&t, &m, &m)
		f.add(&m, &t, &m)
	} else {
		// M = 3·XX + a·ZZ².
		var xx E
		f.sqr(&xx, &p.x)
		f.sqr(&t, &zz)
		f.mul(&t, &t, &o.a)
		f.add(&m, &xx, &xx)
		f.add(&m, &m, &xx)
		f.add(&m, &m, &t)
	}
	// Z3 = 2·Y·Z, computed before r overwrites p's fields.
	f.mul(&z3, &p.y, &p.z)
	f.add(&z3, &z3, &z3)
	// X3 = M² - 2·S
	f.sqr(&t, &m)
	f.sub(&t, &t, &s)
	f.sub(&t, &t, &s)
	// Y3 = M·(S - X3) - 8·YYYY
	f.sub(&u, &s, &t)
	f.mul(&u, &u, &m)
	f.sub(&r.y, &u, &y8)
	r.x = t
	r.z = z3
}

// add sets r = p1 + p2 (add-2007-bl), handling the point at infinity and
// p1 = ±p2, where the formula does not apply.
func (o *ecOps[E]) add(r, p1, p2 *jac[E]) {
	if isZero(&p1.z) {
		*r = *p2
		return
	}
	if isZero(&p2.z) {
		*r = *p1
		return
	}
	f := o.f
	var z1z1, z2z2, u1, u2, s1, s2, h, rr, i, j, v E
	f.sqr(&z1z1, &p1.z)
	f.sqr(&z2z2, &p2.z)
	f.mul(&u1, &p1.x, &z2z2)
	f.mul(&u2, &p2.x, &z1z1)
	f.mul(&s1, &p1.y, &p2.z)
	f.mul(&s1, &s1, &z2z2)
	f.mul(&s2, &p2.y, &p1.z)
	f.mul(&s2, &s2, &z1z1)
	f.sub(&h, &u2, &u1)
	f.sub(&rr, &s2, &s1)
	if isZero(&h) {
		if isZero(&rr) {
			o.double(r, p1)
			return
		}
		*r = jac[E]{}
		return
	}
	f.add(&rr, &rr, &rr)
	// I = (2H)², J = H·I, V = U1·I
	f.add(&i, &h, &h)
	f.sqr(&i, &i)
	f.mul(&j, &h, &i)
	f.mul(&v, &u1, &i)
	// Z3 = ((Z1 + Z2)² - Z1Z1 - Z2Z2)·H
	var z3 E
	f.add(&z3, &p1.z, &p2.z)
	f.sqr(&z3, &z3)
	f.sub(&z3, &z3, &z1z1)
	f.sub(&z3, &z3, &z2z2)
	f.mul(&z3, &z3, &h)
	// X3 = r² - J - 2·V
	var x3, y3 E
	f.sqr(&x3, &rr)
	f.sub(&x3, &x3, &j)
	f.sub(&x3, &x3, &v)
	f.sub(&x3, &x3, &v)
	// Y3 = r·(V - X3) - 2·S1·J
	f.sub(&y3, &v, &x3)
	f.mul(&y3, &y3, &rr)
	f.mul(&s1, &s1, &j)
	f.add(&s1, &s1, &s1)
	f.sub(&y3, &y3, &s1)
	r.x, r.y, r.z = x3, y3, z3
}

// addAffine sets r = p1 + p2 for an affine p2 (madd-2007-bl), handling
// the point at infinity and p1 = ±p2.
func (o *ecOps[E]) addAffine(r, p1 *jac[E], p2 *aff[E]) {
	f := o.f
	if isZero(&p1.z) {
		r.x, r.y, r.z = p2.x, p2.y, f.one
		return
	}
	var z1z1, u2, s2, h, hh, i, j, rr, v E
	f.sqr(&z1z1, &p1.z)
	f.mul(&u2, &p2.x, &z1z1)
	f.mul(&s2, &p2.y, &p1.z)
	f.mul(&s2, &s2, &z1z1)
	f.sub(&h, &u2, &p1.x)
	f.sub(&rr, &s2, &p1.y)
	if isZero(&h) {
		if isZero(&rr) {
			o.double(r, p1)
			return
		}
		*r = jac[E]{}
		return
	}
	f.add(&rr, &rr, &rr)
	// HH = H², I = 4·HH, J = H·I, V = X1·I
	f.sqr(&hh, &h)
	f.add(&i, &hh, &hh)
	f.add(&i, &i, &i)
	f.mul(&j, &h, &i)
	f.mul(&v, &p1.x, &i)
	// Z3 = (Z1 + H)² - Z1Z1 - HH
	var z3 E
	f.add(&z3, &p1.z, &h)
	f.sqr(&z3, &z3)
	f.sub(&z3, &z3, &z1z1)
	f.sub(&z3, &z3, &hh)
	// X3 = r² - J - 2·V
	var x3, y3 E
	f.sqr(&x3, &rr)
	f.sub(&x3, &x3, &j)
	f.sub(&x3, &x3, &v)
	f.sub(&x3, &x3, &v)
	// Y3 = r·(V - X3) - 2·Y1·J
	f.sub(&y3, &v, &x3)
	f.mul(&y3, &y3, &rr)
	f.mul(&j, &j, &p1.y)
	f.add(&j, &j, &j)
	f.sub(&y3, &y3, &j)
	r.x, r.y, r.z = x3, y3, z3
}

// toAffine returns p's affine coordinates as plain big.Ints; inf reports
// the point at infinity.
func (o *ecOps[E]) toAffine(p *jac[E]) (x, y *big.Int, inf bool) {
	if isZero(&p.z) {
		return nil, nil, true
	}
	f := o.f
	var zi, zi2, ax, ay E
	f.inv(&zi, &p.z)
	f.sqr(&zi2, &zi)
	f.mul(&ax, &p.x, &zi2)
	f.mul(&zi2, &zi2, &zi)
	f.mul(&ay, &p.y, &zi2)
	return f.toBig(&ax), f.toBig(&ay), false
}

// normalize converts points to affine with one field inversion for all
// (Montgomery's trick). None of them may be the point at infinity.
func (o *ecOps[E]) normalize(ps []jac[E]) []aff[E] {
	f := o.f
	n := len(ps)
	out := make([]aff[E], n)
	if n == 0 {
		return out
	}
	// prefix[i] = z0·z1·…·zi
	prefix := make([]E, n)
	prefix[0] = ps[0].z
	for i := 1; i < n; i++ {
		f.mul(&prefix[i], &prefix[i-1], &ps[i].z)
	}
	var inv E
	f.inv(&inv, &prefix[n-1])
	for i := n - 1; i >= 0; i-- {
		// inv = (z0·…·zi)⁻¹, so zi⁻¹ = inv·prefix[i-1].
		var zi E
		if i > 0 {
			f.mul(&zi, &inv, &prefix[i-1])
			f.mul(&inv, &inv, &ps[i].z)
		} else {
			zi = inv
		}
		var zi2, zi3 E
		f.sqr(&zi2, &zi)
		f.mul(&zi3, &zi2, &zi)
		f.mul(&out[i].x, &ps[i].x, &zi2)
		f.mul(&out[i].y, &ps[i].y, &zi3)
	}
	return out
}

// tables builds the base point's comb and odd multiples once.
func (o *ecOps[E]) tables() {
	o.once.Do(func() {
		var e E
		windows := (64*len(e) + combBits - 1) / combBits
		pts := make([]jac[E], 0, windows*combRow+len(o.oddP))
		base := jac[E]{x: o.g.x, y: o.g.y, z: o.f.one}
		for range windows {
			acc := base
			pts = append(pts, acc)
			for j := 1; j < combRow; j++ {
				o.add(&acc, &acc, &base)
				pts = append(pts, acc)
			}
			for range combBits {
				o.double(&base, &base)
			}
		}
		// The odd multiples (2j+1)·P.
		g := jac[E]{x: o.g.x, y: o.g.y, z: o.f.one}
		var g2 jac[E]
		o.double(&g2, &g)
		acc := g
		for j := range o.oddP {
			if j > 0 {
				o.add(&acc, &acc, &g2)
			}
			pts = append(pts, acc)
		}
		all := o.normalize(pts)
		o.comb = make([][combRow]aff[E], windows)
		for i := range windows {
			copy(o.comb[i][:], all[i*combRow:(i+1)*combRow])
		}
		copy(o.oddP[:], all[windows*combRow:])
	})
}

// baseMultJac returns k·P for a scalar given as limbs, with the comb:
// one mixed addition per 4-bit digit and no doubling. The table entry is
// read by scanning the whole row and the digit-0 case is a masked select,
// so neither memory access nor the choice of operation depends on the
// digits; the addition's own exceptional cases (an accumulator still at
// infinity, p1 = ±p2) do branch.
func (o *ecOps[E]) baseMultJac(kp *E) jac[E] {
	o.tables()
	k := *kp
	var acc, sum jac[E]
	for i := range o.comb {
		d := (k[(i*combBits)/64] >> ((i * combBits) % 64)) & combRow
		// sel starts at zero and at most one entry's mask is all ones,
		// so OR-ing every masked entry in selects it.
		var sel aff[E]
		row := &o.comb[i]
		for j := range row {
			// mask is all ones when j+1 = d.
			mask := -(((uint64(j+1) ^ d) - 1) >> 63)
			e := &row[j]
			for w := 0; w < len(sel.x); w++ {
				sel.x[w] |= e.x[w] & mask
				sel.y[w] |= e.y[w] & mask
			}
		}
		o.addAffine(&sum, &acc, &sel)
		keep := -((d - 1) >> 63) // all ones when d = 0
		ctSelect(&sum.x, &acc.x, keep)
		ctSelect(&sum.y, &acc.y, keep)
		ctSelect(&sum.z, &acc.z, keep)
		acc = sum
	}
	return acc
}

// ctSelect sets dst = src where mask is all ones, leaving it where mask is 0.
func ctSelect[E limbs](dst, src *E, mask uint64) {
	d, s := *dst, *src
	for i := 0; i < len(d); i++ {
		d[i] = d[i]&^mask | s[i]&mask
	}
	*dst = d
}

func (o *ecOps[E]) baseMult(k *big.Int) (x, y *big.Int, inf bool) {
	kl := toLimbs[E](k)
	r := o.baseMultJac(&kl)
	return o.toAffine(&r)
}

// wnaf returns the width-w non-adjacent form of k: digits that are 0 or
// odd in (-2^(w-1), 2^(w-1)), least significant first, Σ d_i·2^i = k.
func wnaf[E limbs](kp *E, w uint) []int8 {
	k := *kp
	n := len(k)
	// One spare word: subtracting a negative digit can carry upwards.
	kk := make([]uint64, n+1)
	for i := 0; i < n; i++ {
		kk[i] = k[i]
	}
	out := make([]int8, 0, 64*n+1)
	window := uint64(1)<<w - 1
	half := int64(1) << (w - 1)
	done := func() bool {
		for _, v := range kk {
			if v != 0 {
				return false
			}
		}
		return true
	}
	for !done() {
		var d int64
		if kk[0]&1 == 1 {
			d = int64(kk[0] & window)
			if d >= half {
				d -= 1 << w
			}
			// k -= d
			if d > 0 {
				var b uint64
				kk[0], b = bits.Sub64(kk[0], uint64(d), 0)
				for i := 1; b != 0 && i < len(kk); i++ {
					kk[i], b = bits.Sub64(kk[i], 0, b)
				}
			} else {
				var c uint64
				kk[0], c = bits.Add64(kk[0], uint64(-d), 0)
				for i := 1; c != 0 && i < len(kk); i++ {
					kk[i], c = bits.Add64(kk[i], 0, c)
				}
			}
		}
		out = append(out, int8(d))
		// k >>= 1
		for i := 0; i < len(kk)-1; i++ {
			kk[i] = kk[i]>>1 | kk[i+1]<<63
		}
		kk[len(kk)-1] >>= 1
	}
	return out
}

// doubleMultJac returns u1·P + u2·Q by one doubling chain over the
// interleaved wNAFs of u1 (over the precomputed affine odd multiples of P)
// and u2 (over odd multiples of Q computed here). This is verification's
// path: the scalars are public, so it branches freely.
func (o *ecOps[E]) doubleMultJac(u1, u2 *E, q *aff[E]) jac[E] {
	o.tables()
	f := o.f
	n1 := wnaf(u1, wP)
	n2 := wnaf(u2, wQ)
	// qt[j] = (2j+1)·Q
	var qt [1 << (wQ - 2)]jac[E]
	qt[0] = jac[E]{x: q.x, y: q.y, z: f.one}
	var q2 jac[E]
	o.double(&q2, &qt[0])
	for j := 1; j < len(qt); j++ {
		o.add(&qt[j], &qt[j-1], &q2)
	}
	var acc jac[E]
	started := false
	for i := max(len(n1), len(n2)) - 1; i >= 0; i-- {
		if started {
			o.double(&acc, &acc)
		}
		if i < len(n1) && n1[i] != 0 {
			d := n1[i]
			if d > 0 {
				o.addAffine(&acc, &acc, &o.oddP[d/2])
			} else {
				neg := o.oddP[-d/2]
				f.neg(&neg.y, &neg.y)
				o.addAffine(&acc, &acc, &neg)
			}
			started = true
		}
		if i < len(n2) && n2[i] != 0 {
			d := n2[i]
			if d > 0 {
				o.add(&acc, &acc, &qt[d/2])
			} else {
				neg := qt[-d/2]
				f.neg(&neg.y, &neg.y)
				o.add(&acc, &acc, &neg)
			}
			started = true
		}
	}
	return acc
}

func (o *ecOps[E]) pointFromBig(qx, qy *big.Int) aff[E] {
	return aff[E]{x: o.f.fromBig(qx), y: o.f.fromBig(qy)}
}

func (o *ecOps[E]) doubleMult(u1, u2, qx, qy *big.Int) (x, y *big.Int, inf bool) {
	a, b := toLimbs[E](u1), toLimbs[E](u2)
	q := o.pointFromBig(qx, qy)
	r := o.doubleMultJac(&a, &b, &q)
	return o.toAffine(&r)
}

// verifyX checks x(C) ≡ r (mod q) for C = (X : Y : Z) without inverting Z:
// x(C) is some r + j·q below p, and x(C) = X/Z², so it tests X = (r + j·q)·Z²
// for each such candidate (one when q > p, up to four on the cofactor-4
// sets).
func (o *ecOps[E]) verifyX(u1, u2, qx, qy, r *big.Int) bool {
	a, b := toLimbs[E](u1), toLimbs[E](u2)
	q := o.pointFromBig(qx, qy)
	c := o.doubleMultJac(&a, &b, &q)
	if isZero(&c.z) {
		return false
	}
	f := o.f
	var zz E
	f.sqr(&zz, &c.z)
	cand := new(big.Int).Set(r)
	for cand.Cmp(o.p) < 0 {
		cm := f.fromBig(cand)
		f.mul(&cm, &cm, &zz)
		if equal(&cm, &c.x) {
			return true
		}
		cand.Add(cand, o.q)
	}
	return false
}
