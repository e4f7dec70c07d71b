package gost3410

import (
	"errors"
	"math/big"
	"math/bits"
	"unsafe"
)

// limbs is a fixed-size little-endian integer of 64-bit words: 4 words for
// the 256-bit sets, 8 for the 512-bit ones. Every function over it is
// instantiated once per size, so the loop bounds are constants and the
// arrays live on the stack.
type limbs interface {
	[4]uint64 | [8]uint64
}

// field is arithmetic modulo an odd prime m of the size of E, in the
// Montgomery domain: an element x is held as x·R mod m with R = 2^(64·len(E)).
// It works for any such m (the ГОСТ primes are not all of a special form),
// with multiplication by word-serial Montgomery reduction (CIOS). When m is
// pseudo-Mersenne, 2^(64·len(E)) - c with a small c, it uses the cheaper
// reduction of pmfield.go instead, with R = 1 (elements are plain residues);
// so far only for four limbs.
type field[E limbs] struct {
	m     E      // the modulus
	m0inv uint64 // -m⁻¹ mod 2⁶⁴
	c     uint64 // 2^(64·len(E)) - m when m is pseudo-Mersenne, else 0
	rr    E      // R² mod m, to enter the Montgomery domain
	one   E      // R mod m: 1 in the Montgomery domain
	mBig  *big.Int
}

// newField prepares arithmetic modulo m, which must be odd and fit E:
// pseudo-Mersenne reduction when m has that form, Montgomery otherwise.
func newField[E limbs](m *big.Int) (*field[E], error) {
	f, err := newMontField[E](m)
	if err != nil {
		return nil, err
	}
	if c, ok := pseudoMersenneC(m, 64*len(f.m)); ok && len(f.m) == 4 {
		// R = 1: entering and leaving the domain multiply by 1.
		var one E
		one[0] = 1
		f.c, f.one, f.rr = c, one, one
	}
	return f, nil
}

// newMontField prepares Montgomery arithmetic modulo m whatever its form;
// the tests also hold the pseudo-Mersenne reduction to it.
func newMontField[E limbs](m *big.Int) (*field[E], error) {
	var f field[E]
	n := len(f.m)
	if m.Sign() <= 0 || m.Bit(0) == 0 || m.BitLen() > 64*n {
		return nil, errors.New("modulus must be odd and fit the limbs")
	}
	f.mBig = new(big.Int).Set(m)
	f.m = toLimbs[E](m)
	// Newton's iteration for m⁻¹ mod 2⁶⁴: each step doubles the correct bits.
	inv := uint64(1)
	for range 6 {
		inv *= 2 - f.m[0]*inv
	}
	f.m0inv = -inv
	r := new(big.Int).Lsh(big.NewInt(1), uint(64*n))
	f.one = toLimbs[E](new(big.Int).Mod(r, m))
	f.rr = toLimbs[E](new(big.Int).Mod(new(big.Int).Mul(r, r), m))
	return &f, nil
}

// toLimbs converts 0 ≤ v < 2^(64·len(E)) to limbs.
func toLimbs[E limbs](v *big.Int) E {
	var e E
	words := v.Bits()
	for i := 0; i < len(e); i++ {
		if i < len(words) {
			e[i] = uint64(words[i])
		}
	}
	return e
}

// fromLimbs converts limbs to a big.Int.
func fromLimbs[E limbs](ep *E) *big.Int {
	e := *ep
	buf := make([]byte, 8*len(e))
	for i := 0; i < len(e); i++ {
		w := e[i]
		for j := 0; j < 8; j++ {
			buf[len(buf)-1-8*i-j] = byte(w >> (8 * j))
		}
	}
	return new(big.Int).SetBytes(buf)
}

//go:generate go run gen_mont.go

// mul sets z = x·y·R⁻¹ mod m. z may alias x or y. It runs the unrolled
// code gen_mont.go writes for the limb count, or pmfield.go's for a
// pseudo-Mersenne m.
func (f *field[E]) mul(z, x, y *E) {
	if len(*z) == 4 {
		if f.c != 0 {
			pmMul4(as4(z), as4(x), as4(y), f.c)
			return
		}
		montMul4(as4(z), as4(x), as4(y), as4(&f.m), f.m0inv)
		return
	}
	montMul8(as8(z), as8(x), as8(y), as8(&f.m), f.m0inv)
}

// as4 and as8 give a *E as the array it is. The limbs constraint has no ~,
// so E is exactly [4]uint64 or [8]uint64 and, once the length is checked,
// the conversion only changes the static type. They replace any(z).(type)
// switches, which in generic code cost a dictionary lookup and two
// comparisons per field operation (measured about a tenth of a
// verification).
func as4[E limbs](p *E) *[4]uint64 { return (*[4]uint64)(unsafe.Pointer(p)) }

func as8[E limbs](p *E) *[8]uint64 { return (*[8]uint64)(unsafe.Pointer(p)) }

// mulLoop is Montgomery mul as loops over the limbs: word-serial Montgomery
// multiplication (CIOS) with the running sum t in len(E)+2 words. It is the
// algorithm gen_mont.go unrolls, kept as the readable reference the tests
// compare the unrolled code with.
func (f *field[E]) mulLoop(z, x, y *E) {
	xv, yv := *x, *y
	var t E
	var t1, t2 uint64 // the two words above t
	n := len(t)
	for i := 0; i < n; i++ {
		// t += x·y[i]
		var c uint64
		yi := yv[i]
		for j := 0; j < n; j++ {
			hi, lo := bits.Mul64(xv[j], yi)
			lo, cc := bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j], c = lo, hi
		}
		var cc uint64
		t1, cc = bits.Add64(t1, c, 0)
		t2 = cc
		// t = (t + mm·m) / 2⁶⁴, with mm chosen so the low word vanishes.
		mm := t[0] * f.m0inv
		hi, lo := bits.Mul64(mm, f.m[0])
		_, cc = bits.Add64(lo, t[0], 0)
		c = hi + cc
		for j := 1; j < n; j++ {
			hi, lo := bits.Mul64(mm, f.m[j])
			lo, cc := bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j-1], c = lo, hi
		}
		t[n-1], cc = bits.Add64(t1, c, 0)
		t1 = t2 + cc
	}
	// t < 2m: subtract m once if t ≥ m, without a branch.
	var d E
	var b uint64
	for j := 0; j < n; j++ {
		d[j], b = bits.Sub64(t[j], f.m[j], b)
	}
	_, b = bits.Sub64(t1, 0, b)
	// b = 1: t < m, keep t.
	mask := -b
	for j := 0; j < n; j++ {
		t[j] = (t[j] & mask) | (d[j] &^ mask)
	}
	*z = t
}

// sqr sets z = x²·R⁻¹ mod m; z may alias x. Over four limbs both
// reductions square with ten word products instead of sixteen (sqr4.go);
// over eight, it multiplies.
func (f *field[E]) sqr(z, x *E) {
	if len(*z) == 4 {
		sqr4(as4(z), as4(x), as4(&f.m), f.m0inv, f.c)
		return
	}
	f.mul(z, x, x)
}

// add sets z = x + y mod m.
func (f *field[E]) add(z, x, y *E) {
	if len(*z) == 4 {
		modAdd4(as4(z), as4(x), as4(y), as4(&f.m))
		return
	}
	modAdd8(as8(z), as8(x), as8(y), as8(&f.m))
}

// sub sets z = x - y mod m.
func (f *field[E]) sub(z, x, y *E) {
	if len(*z) == 4 {
		modSub4(as4(z), as4(x), as4(y), as4(&f.m))
		return
	}
	modSub8(as8(z), as8(x), as8(y), as8(&f.m))
}

// addLoop is add as loops over the limbs, the reference for modAdd4/8.
func (f *field[E]) addLoop(z, x, y *E) {
	xv, yv := *x, *y
	var s, d E
	var c, b uint64
	n := len(s)
	for j := 0; j < n; j++ {
		s[j], c = bits.Add64(xv[j], yv[j], c)
	}
	for j := 0; j < n; j++ {
		d[j], b = bits.Sub64(s[j], f.m[j], b)
	}
	_, b = bits.Sub64(c, 0, b)
	mask := -b // keep s when s < m
	for j := 0; j < n; j++ {
		s[j] = (s[j] & mask) | (d[j] &^ mask)
	}
	*z = s
}

// subLoop is sub as loops over the limbs, the reference for modSub4/8.
func (f *field[E]) subLoop(z, x, y *E) {
	xv, yv := *x, *y
	var d E
	var b, c uint64
	n := len(d)
	for j := 0; j < n; j++ {
		d[j], b = bits.Sub64(xv[j], yv[j], b)
	}
	mask := -b // add m back when x < y
	for j := 0; j < n; j++ {
		d[j], c = bits.Add64(d[j], f.m[j]&mask, c)
	}
	*z = d
}

// neg sets z = -x mod m.
func (f *field[E]) neg(z, x *E) {
	var zero E
	f.sub(z, &zero, x)
}

// toMont sets z = x·R mod m for 0 ≤ x < m.
func (f *field[E]) toMont(z, x *E) { f.mul(z, x, &f.rr) }

// fromMont sets z = x·R⁻¹ mod m: the plain residue.
func (f *field[E]) fromMont(z, x *E) {
	var one E
	one[0] = 1
	f.mul(z, x, &one)
}

// fromBig returns v (0 ≤ v < m) in the Montgomery domain.
func (f *field[E]) fromBig(v *big.Int) E {
	e := toLimbs[E](v)
	f.toMont(&e, &e)
	return e
}

// toBig returns the plain residue of the Montgomery element x.
func (f *field[E]) toBig(x *E) *big.Int {
	var e E
	f.fromMont(&e, x)
	return fromLimbs(&e)
}

// inv sets z = x⁻¹ mod m by Fermat (x^(m-2)) with a fixed 4-bit window;
// z = 0 for x = 0.
func (f *field[E]) inv(z, x *E) {
	var e E
	var b uint64
	n := len(e)
	e[0], b = bits.Sub64(f.m[0], 2, 0)
	for j := 1; j < n; j++ {
		e[j], b = bits.Sub64(f.m[j], 0, b)
	}
	f.exp(z, x, &e)
}

// exp sets z = x^e in the Montgomery domain, e a plain integer.
func (f *field[E]) exp(z, x, ep *E) {
	e := *ep
	var table [16]E
	table[0] = f.one
	table[1] = *x
	for i := 2; i < 16; i++ {
		f.mul(&table[i], &table[i-1], x)
	}
	acc := f.one
	n := len(e)
	for i := 64*n - 4; i >= 0; i -= 4 {
		f.sqr(&acc, &acc)
		f.sqr(&acc, &acc)
		f.sqr(&acc, &acc)
		f.sqr(&acc, &acc)
		w := (e[i/64] >> (i % 64)) & 15
		f.mul(&acc, &acc, &table[w])
	}
	*z = acc
}

// isZero reports whether x is 0 (in either domain: 0 maps to 0).
func isZero[E limbs](xp *E) bool {
	x := *xp
	var acc uint64
	for j := 0; j < len(x); j++ {
		acc |= x[j]
	}
	return acc == 0
}

// equal reports whether x = y as limbs; elements are always fully reduced,
// so this is equality of residues.
func equal[E limbs](xp, yp *E) bool {
	x, y := *xp, *yp
	var acc uint64
	for j := 0; j < len(x); j++ {
		acc |= x[j] ^ y[j]
	}
	return acc == 0
}
