package gost3410

import "math/big"

// This file is the plain math/big arithmetic in affine coordinates: slow,
// short and easy to check against the textbook formulas, it is the oracle
// the tests hold the fast arithmetic of field.go and point.go to.

// bigPoint is an affine point; inf marks the point at infinity O.
type bigPoint struct {
	x, y *big.Int
	inf  bool
}

// bigAdd returns P1 + P2 with the chord-and-tangent law.
func (c *Curve) bigAdd(p1, p2 bigPoint) bigPoint {
	if p1.inf {
		return p2
	}
	if p2.inf {
		return p1
	}
	var lambda *big.Int
	if p1.x.Cmp(p2.x) == 0 {
		sum := new(big.Int).Add(p1.y, p2.y)
		if sum.Mod(sum, c.p).Sign() == 0 {
			return bigPoint{inf: true} // P + (-P), which includes doubling a point with y = 0
		}
		// Doubling: λ = (3x² + a) / 2y.
		num := new(big.Int).Mul(p1.x, p1.x)
		num.Mul(num, big.NewInt(3))
		num.Add(num, c.a)
		den := new(big.Int).Lsh(p1.y, 1)
		lambda = num.Mul(num, den.ModInverse(den.Mod(den, c.p), c.p))
	} else {
		// λ = (y2 - y1) / (x2 - x1).
		num := new(big.Int).Sub(p2.y, p1.y)
		den := new(big.Int).Sub(p2.x, p1.x)
		lambda = num.Mul(num, den.ModInverse(den.Mod(den, c.p), c.p))
	}
	lambda.Mod(lambda, c.p)
	x3 := new(big.Int).Mul(lambda, lambda)
	x3.Sub(x3, p1.x)
	x3.Sub(x3, p2.x)
	x3.Mod(x3, c.p)
	y3 := new(big.Int).Sub(p1.x, x3)
	y3.Mul(y3, lambda)
	y3.Sub(y3, p1.y)
	y3.Mod(y3, c.p)
	return bigPoint{x: x3, y: y3}
}

// bigScalarMult returns k·P for k ≥ 0 by double-and-add from the top bit.
func (c *Curve) bigScalarMult(p bigPoint, k *big.Int) bigPoint {
	r := bigPoint{inf: true}
	for i := k.BitLen() - 1; i >= 0; i-- {
		r = c.bigAdd(r, r)
		if k.Bit(i) == 1 {
			r = c.bigAdd(r, p)
		}
	}
	return r
}

// basePoint returns the set's base point P.
func (c *Curve) basePoint() bigPoint { return bigPoint{x: c.gx, y: c.gy} }
