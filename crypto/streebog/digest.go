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

// lps is L∘P∘S through lpsTable. It is written out, one line per output
// word with constant shifts, and reads each input word once: the loop it
// replaces shifted by a variable and reloaded the words for every output
// (the hash of a 50 KiB СЭМД is half the CPU normalize spends on it).
func lps(x *[8]uint64) [8]uint64 {
	t := lpsTable
	x0, x1, x2, x3, x4, x5, x6, x7 := x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
	var r [8]uint64
	r[0] = t[0][byte(x0)] ^ t[1][byte(x1)] ^ t[2][byte(x2)] ^ t[3][byte(x3)] ^
		t[4][byte(x4)] ^ t[5][byte(x5)] ^ t[6][byte(x6)] ^ t[7][byte(x7)]
	r[1] = t[0][byte(x0>>8)] ^ t[1][byte(x1>>8)] ^ t[2][byte(x2>>8)] ^ t[3][byte(x3>>8)] ^
		t[4][byte(x4>>8)] ^ t[5][byte(x5>>8)] ^ t[6][byte(x6>>8)] ^ t[7][byte(x7>>8)]
	r[2] = t[0][byte(x0>>16)] ^ t[1][byte(x1>>16)] ^ t[2][byte(x2>>16)] ^ t[3][byte(x3>>16)] ^
		t[4][byte(x4>>16)] ^ t[5][byte(x5>>16)] ^ t[6][byte(x6>>16)] ^ t[7][byte(x7>>16)]
	r[3] = t[0][byte(x0>>24)] ^ t[1][byte(x1>>24)] ^ t[2][byte(x2>>24)] ^ t[3][byte(x3>>24)] ^
		t[4][byte(x4>>24)] ^ t[5][byte(x5>>24)] ^ t[6][byte(x6>>24)] ^ t[7][byte(x7>>24)]
	r[4] = t[0][byte(x0>>32)] ^ t[1][byte(x1>>32)] ^ t[2][byte(x2>>32)] ^ t[3][byte(x3>>32)] ^
		t[4][byte(x4>>32)] ^ t[5][byte(x5>>32)] ^ t[6][byte(x6>>32)] ^ t[7][byte(x7>>32)]
	r[5] = t[0][byte(x0>>40)] ^ t[1][byte(x1>>40)] ^ t[2][byte(x2>>40)] ^ t[3][byte(x3>>40)] ^
		t[4][byte(x4>>40)] ^ t[5][byte(x5>>40)] ^ t[6][byte(x6>>40)] ^ t[7][byte(x7>>40)]
	r[6] = t[0][byte(x0>>48)] ^ t[1][byte(x1>>48)] ^ t[2][byte(x2>>48)] ^ t[3][byte(x3>>48)] ^
		t[4][byte(x4>>48)] ^ t[5][byte(x5>>48)] ^ t[6][byte(x6>>48)] ^ t[7][byte(x7>>48)]
	r[7] = t[0][byte(x0>>56)] ^ t[1][byte(x1>>56)] ^ t[2][byte(x2>>56)] ^ t[3][byte(x3>>56)] ^
		t[4][byte(x4>>56)] ^ t[5][byte(x5>>56)] ^ t[6][byte(x6>>56)] ^ t[7][byte(x7>>56)]
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
