// Package streebog implements the ГОСТ Р 34.11-2012 hash function
// ("Streebog") with 256- and 512-bit output, as specified in RFC 6986.
//
// Output bytes are in the order `openssl dgst -engine gost -md_gost12_256`
// prints them (the reverse of the little-endian integer notation RFC 6986
// uses for its examples).
package streebog

import "hash"

// Size256 and Size512 are the digest sizes in bytes.
const (
	Size256   = 32
	Size512   = 64
	BlockSize = 64
)

// New256 returns a hash.Hash computing the 256-bit Streebog digest.
func New256() hash.Hash { return newDigest(Size256) }

// New512 returns a hash.Hash computing the 512-bit Streebog digest.
func New512() hash.Hash { return newDigest(Size512) }

// Sum256 returns the 256-bit Streebog digest of data.
func Sum256(data []byte) [32]byte {
	var out [32]byte
	d := newDigest(Size256)
	d.Write(data)
	d.Sum(out[:0])
	return out
}

// Sum512 returns the 512-bit Streebog digest of data.
func Sum512(data []byte) [64]byte {
	var out [64]byte
	d := newDigest(Size512)
	d.Write(data)
	d.Sum(out[:0])
	return out
}
