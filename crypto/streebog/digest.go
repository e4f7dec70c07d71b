package streebog

import (
	"encoding/binary"
)

type digest struct {
	h     [8]uint64 // chaining value
	n     [8]uint64 // bits processed, mod 2^512
	sigma [8]uint64 // sum of blocks, mod 2^512
	buf   [BlockSize]byte
	nbuf  int
	size  int
}

func newDigest(size int) *digest {
	d := &digest{size: size}
	d.Reset()
	return d
}

// Reset restores the initial state: IV is 0^512 for the 512-bit function
// and (00000001)^64 for the 256-bit one (RFC 6986 §5).
func (d *digest) Reset() {
	iv := uint64(0)
	if d.size == Size256 {
		iv = 0x0101010101010101
	}
	for i := range d.h {
		d.h[i] = iv
		d.n[i] = 0
		d.sigma[i] = 0
	}
	d.nbuf = 0
}

func (d *digest) Size() int      { return d.size }
func (d *digest) BlockSize() int { return BlockSize }

// Write absorbs p. Every complete block is compressed at once: the final,
// padded block is always the (possibly empty) remainder of 0..63 bytes.
func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	if d.nbuf > 0 {
		c := copy(d.buf[d.nbuf:], p)
		d.nbuf += c
		p = p[c:]
		if d.nbuf < BlockSize {
			return n, nil
		}
		d.block(d.buf[:])
		d.nbuf = 0
	}
	for len(p) >= BlockSize {
		d.block(p[:BlockSize])
		p = p[BlockSize:]
	}
	d.nbuf = copy(d.buf[:], p)
	return n, nil
}

func (d *digest) block(b []byte) {
	var m [8]uint64
	for i := range m {
		m[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	g(&d.h, &d.n, &m)
	add512(&d.n, 512)
	addVec(&d.sigma, &m)
}

// Sum appends the digest to b without changing the state.
func (d *digest) Sum(b []byte) []byte {
	c := *d
	var m [8]uint64
	var pad [BlockSize]byte
	copy(pad[:], c.buf[:c.nbuf])
	pad[c.nbuf] = 1
	for i := range m {
		m[i] = binary.LittleEndian.Uint64(pad[8*i:])
	}
	g(&c.h, &c.n, &m)
	add512(&c.n, uint64(c.nbuf)*8)
	addVec(&c.sigma, &m)
	var zero [8]uint64
	g(&c.h, &zero, &c.n)
	g(&c.h, &zero, &c.sigma)

	var out [Size512]byte
	for i := range c.h {
		binary.LittleEndian.PutUint64(out[8*i:], c.h[i])
	}
	if d.size == Size256 {
		// The 256-bit digest is the most significant half: bytes 32..63.
		return append(b, out[32:]...)
	}
	return append(b, out[:]...)
}

// add512 adds a small value to a 512-bit little-endian number.
func add512(x *[8]uint64, v uint64) {
	for i := range x {
		s := x[i] + v
		carry := s < x[i]
		x[i] = s
		if !carry {
			return
		}
		v = 1
	}
}

// addVec adds y to x modulo 2^512.
func addVec(x, y *[8]uint64) {
	var carry uint64
	for i := range x {
		s := x[i] + y[i]
		c1 := s < x[i]
		s2 := s + carry
		c2 := s2 < s
		x[i] = s2
		carry = 0
		if c1 || c2 {
			carry = 1
		}
	}
}

func lps(x *[8]uint64) [8]uint64 {
	t := lpsTable
	var r [8]uint64
	for j := 0; j < 8; j++ {
		sh := uint(8 * j)
		r[j] = t[0][byte(x[0]>>sh)] ^ t[1][byte(x[1]>>sh)] ^ t[2][byte(x[2]>>sh)] ^ t[3][byte(x[3]>>sh)] ^
			t[4][byte(x[4]>>sh)] ^ t[5][byte(x[5]>>sh)] ^ t[6][byte(x[6]>>sh)] ^ t[7][byte(x[7]>>sh)]
	}
	return r
}

// g is the compression function g_N(h, m) of RFC 6986 §7; it updates h.
func g(h, n, m *[8]uint64) {
	var k [8]uint64
	for i := range k {
		k[i] = h[i] ^ n[i]
	}
	k = lps(&k)
	var s [8]uint64
	for i := range s {
		s[i] = k[i] ^ m[i]
	}
	for r := 0; r < 12; r++ {
		s = lps(&s)
		for i := range k {
			k[i] ^= roundC[r][i]
		}
		k = lps(&k)
		for i := range s {
			s[i] ^= k[i]
		}
	}
	for i := range h {
		h[i] ^= s[i] ^ m[i]
	}
}
