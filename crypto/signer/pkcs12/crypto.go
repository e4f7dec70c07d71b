package pkcs12

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"unicode/utf16"

	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

// macHash returns the hash a MAC algorithm names and whether it is a
// Streebog one, which derives its key the TC26 way.
func macHash(oid asn1.ObjectIdentifier) (hashFunc, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return sha1.New, false
	case oid.Equal(oidSHA224):
		return sha256.New224, false
	case oid.Equal(oidSHA256):
		return sha256.New, false
	case oid.Equal(oidSHA384):
		return sha512.New384, false
	case oid.Equal(oidSHA512):
		return sha512.New, false
	case oid.Equal(oidStreebog256):
		return streebog.New256, true
	case oid.Equal(oidStreebog512):
		return streebog.New512, true
	}
	return nil, false
}

// gostMACKey derives the MAC key for a Streebog MAC as OpenSSL does
// (crypto/pkcs12/p12_mutl.c, after the TC26 PKCS #12 profile, R 50.1.112):
// PBKDF2 with HMAC over the MAC's own digest, the password's UTF-8 bytes,
// 96 bytes of output, of which the last 32 are the key.
func gostMACKey(newHash hashFunc, password string, salt []byte, iter int) ([]byte, error) {
	out, err := pbkdf2.Key(newHash, password, salt, iter, 96)
	if err != nil {
		return nil, fmt.Errorf("derive MAC key: %w", err)
	}
	return out[64:], nil
}

// bmpPasswords returns the password as PKCS #12 key derivation takes it
// (RFC 7292 Appendix B.1: BMPString, big-endian UTF-16 with a two-byte
// terminator). An empty password is tried both as the bare terminator and
// as no bytes at all, since tools disagree on it.
func bmpPasswords(password string) [][]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	b = append(b, 0, 0)
	if password == "" {
		return [][]byte{b, nil}
	}
	return [][]byte{b}
}

// pkcs12KDF is the key derivation of RFC 7292 Appendix B.2: id 1 for
// keys, 2 for IVs, 3 for MAC keys.
func pkcs12KDF(newHash hashFunc, id byte, password, salt []byte, iter, n int) []byte {
	h := newHash()
	u, v := h.Size(), h.BlockSize()
	fill := func(src []byte) []byte {
		if len(src) == 0 {
			return nil
		}
		out := make([]byte, v*((len(src)+v-1)/v))
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out
	}
	d := bytes.Repeat([]byte{id}, v)
	i := append(fill(salt), fill(password)...)
	one := big.NewInt(1)
	out := make([]byte, 0, n+u)
	for len(out) < n {
		h.Reset()
		h.Write(d)
		h.Write(i)
		a := h.Sum(nil)
		for r := 1; r < iter; r++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}
		b := new(big.Int).SetBytes(fill(a)[:v])
		b.Add(b, one)
		for j := 0; j < len(i); j += v {
			ij := new(big.Int).SetBytes(i[j : j+v])
			ij.Add(ij, b)
			sum := ij.Bytes()
			if len(sum) > v {
				sum = sum[len(sum)-v:]
			}
			block := i[j : j+v]
			clear(block)
			copy(block[v-len(sum):], sum)
		}
	}
	return out[:n]
}

type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

type pbkdf2Params struct {
	Salt       asn1.RawValue
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

type pbeParams struct {
	Salt       []byte
	Iterations int
}

// decrypt opens ciphertext encrypted with the password-based scheme alg.
func decrypt(alg algorithmIdentifier, ciphertext []byte, password string) ([]byte, error) {
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		return decryptPBES2(alg.Parameters.FullBytes, ciphertext, password)
	case alg.Algorithm.Equal(oidPBEWithSHAAnd3KeyTDES):
		var p pbeParams
		if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("%w: PBE parameters: %v", ErrMalformed, err)
		}
		if p.Iterations < 1 || p.Iterations > maxIterations {
			return nil, fmt.Errorf("%w: PBE iteration count %d", ErrMalformed, p.Iterations)
		}
		// Only one BMP form is tried: an empty password's two forms would
		// need two decryptions, and the MAC has already told which works.
		pw := bmpPasswords(password)[0]
		key := pkcs12KDF(sha1.New, 1, pw, p.Salt, p.Iterations, 24)
		iv := pkcs12KDF(sha1.New, 2, pw, p.Salt, p.Iterations, 8)
		block, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil, fmt.Errorf("3DES key: %w", err)
		}
		return cbcDecrypt(block, iv, ciphertext)
	}
	return nil, &UnsupportedAlgorithmError{Usage: "encryption scheme", OID: alg.Algorithm}
}

func decryptPBES2(params, ciphertext []byte, password string) ([]byte, error) {
	var p pbes2Params
	if err := unmarshalAll(params, &p); err != nil {
		return nil, fmt.Errorf("%w: PBES2 parameters: %v", ErrMalformed, err)
	}
	if !p.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, &UnsupportedAlgorithmError{Usage: "PBES2 key derivation", OID: p.KeyDerivationFunc.Algorithm}
	}
	var keyLen int
	switch enc := p.EncryptionScheme.Algorithm; {
	case enc.Equal(oidAES128CBC):
		keyLen = 16
	case enc.Equal(oidAES192CBC):
		keyLen = 24
	case enc.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, &UnsupportedAlgorithmError{Usage: "PBES2 cipher", OID: enc}
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: PBES2 AES IV", ErrMalformed)
	}

	var kdf pbkdf2Params
	if err := unmarshalAll(p.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("%w: PBKDF2 parameters: %v", ErrMalformed, err)
	}
	if kdf.Salt.Class != asn1.ClassUniversal || kdf.Salt.Tag != asn1.TagOctetString {
		return nil, errors.New("pkcs12: unsupported PBKDF2 salt source (only a specified salt)")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxIterations {
		return nil, fmt.Errorf("%w: PBKDF2 iteration count %d", ErrMalformed, kdf.Iterations)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("%w: PBKDF2 key length %d for a %d-byte key", ErrMalformed, kdf.KeyLength, keyLen)
	}
	prf := hashFunc(sha1.New) // the default PRF, RFC 8018 §A.2
	if len(kdf.PRF.Algorithm) > 0 {
		switch o := kdf.PRF.Algorithm; {
		case o.Equal(oidHMACWithSHA1):
			prf = sha1.New
		case o.Equal(oidHMACWithSHA224):
			prf = sha256.New224
		case o.Equal(oidHMACWithSHA256):
			prf = sha256.New
		case o.Equal(oidHMACWithSHA384):
			prf = sha512.New384
		case o.Equal(oidHMACWithSHA512):
			prf = sha512.New
		case o.Equal(oidHMACStreebog256):
			prf = streebog.New256
		case o.Equal(oidHMACStreebog512):
			prf = streebog.New512
		default:
			return nil, &UnsupportedAlgorithmError{Usage: "PBKDF2 PRF", OID: o}
		}
	}
	// PBES2 takes the password as bytes; OpenSSL passes its UTF-8 as is.
	key, err := pbkdf2.Key(prf, password, kdf.Salt.Bytes, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("derive PBES2 key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES key: %w", err)
	}
	return cbcDecrypt(block, iv, ciphertext)
}

// cbcDecrypt decrypts and strips PKCS #7 padding. Bad padding means the
// key, hence the password, was wrong.
func cbcDecrypt(block cipher.Block, iv, ciphertext []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, fmt.Errorf("%w: ciphertext length %d is not a multiple of %d", ErrMalformed, len(ciphertext), bs)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ciphertext)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, ErrIncorrectPassword
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrIncorrectPassword
		}
	}
	return out[:len(out)-pad], nil
}
