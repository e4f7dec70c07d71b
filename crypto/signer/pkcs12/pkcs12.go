// Package pkcs12 reads the private keys and certificates out of a PKCS #12
// (.p12, .pfx) file (RFC 7292), as OpenSSL 3 writes it by default (PBES2
// with PBKDF2 and AES-256-CBC, an HMAC-SHA-256 MAC), with the ГОСТ engine's
// Streebog MAC (`-macalg md_gost12_256|md_gost12_512`), and as older tools
// write it (pbeWithSHAAnd3-KeyTripleDES-CBC).
//
// It is written here because golang.org/x/crypto/pkcs12 knows no PBES2 and
// neither it nor other permissively licensed decoders know ГОСТ keys or the
// Streebog MAC: they hand the key to x509.ParsePKCS8PrivateKey, which
// refuses ГОСТ. This package does not interpret keys at all: it returns the
// decrypted PKCS #8 PrivateKeyInfo and the certificates' DER, and the
// caller parses them. DecryptPrivateKeyInfo opens an encrypted PKCS #8
// key with the same schemes.
//
// The ГОСТ engine's own encryption schemes (`-keypbe gost89`, GOST
// 28147-89 CFB; `kuznyechik-ctr-acpkm`) are refused with an
// UnsupportedAlgorithmError naming the OID: they would need ciphers this
// project does not implement, and OpenSSL writes AES unless told otherwise.
package pkcs12

import (
	"crypto/hmac"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// ErrIncorrectPassword is returned when the password does not open the
// file: its MAC does not match, or a decryption produces garbage.
var ErrIncorrectPassword = errors.New("pkcs12: incorrect password")

// ErrMalformed is returned, wrapped with what was being read, when the
// file is not well-formed PKCS #12.
var ErrMalformed = errors.New("pkcs12: malformed file")

// UnsupportedAlgorithmError is returned when the file uses an algorithm
// this package does not implement.
type UnsupportedAlgorithmError struct {
	// Usage says what the algorithm was for: "MAC digest",
	// "encryption scheme", "PBES2 cipher", "PBKDF2 PRF" or "bag type".
	Usage string
	// OID is the algorithm's object identifier as the file names it.
	OID asn1.ObjectIdentifier
}

// Error names the algorithm's use and OID, and its name when known.
func (e *UnsupportedAlgorithmError) Error() string {
	name := knownNames[e.OID.String()]
	if name != "" {
		name = " (" + name + ")"
	}
	return fmt.Sprintf("pkcs12: unsupported %s %s%s", e.Usage, e.OID, name)
}

// Contents is what a PKCS #12 file holds that a signer needs.
type Contents struct {
	// PrivateKeys are the decrypted keys, each a DER PKCS #8
	// PrivateKeyInfo (RFC 5208), in file order.
	PrivateKeys [][]byte
	// Certificates are the DER X.509 certificates, in file order.
	Certificates [][]byte
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type digestInfo struct {
	Algorithm algorithmIdentifier
	Digest    []byte
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type pfx struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type encryptedData struct {
	Version              int
	EncryptedContentInfo encryptedContentInfo
}

type encryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm algorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"tag:0,optional"`
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type certBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

// maxIterations bounds the KDF work a file can ask for, so that a hostile
// file cannot stall a loader: OpenSSL writes 2048, other tools up to 10^6.
const maxIterations = 10_000_000

// Decode opens a PKCS #12 file with password and returns its keys and
// certificates. The password never appears in an error.
func Decode(data []byte, password string) (*Contents, error) {
	var p pfx
	rest, err := asn1.Unmarshal(data, &p)
	if err != nil {
		return nil, fmt.Errorf("%w: PFX: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data after PFX", ErrMalformed)
	}
	if p.Version != 3 {
		return nil, fmt.Errorf("%w: PFX version %d, want 3", ErrMalformed, p.Version)
	}
	if !p.AuthSafe.ContentType.Equal(oidData) {
		// Public-key integrity mode (signedData) is not used for key files.
		return nil, &UnsupportedAlgorithmError{Usage: "authSafe content type", OID: p.AuthSafe.ContentType}
	}
	authSafe, err := octetString(explicitInner(p.AuthSafe.Content))
	if err != nil {
		return nil, fmt.Errorf("%w: authSafe: %v", ErrMalformed, err)
	}
	if len(p.MacData.Mac.Algorithm.Algorithm) > 0 {
		if err := verifyMAC(&p.MacData, authSafe, password); err != nil {
			return nil, err
		}
	}

	var infos []contentInfo
	if err := unmarshalAll(authSafe, &infos); err != nil {
		return nil, fmt.Errorf("%w: AuthenticatedSafe: %v", ErrMalformed, err)
	}
	out := &Contents{}
	for i, ci := range infos {
		var safe []byte
		switch {
		case ci.ContentType.Equal(oidData):
			safe, err = octetString(explicitInner(ci.Content))
			if err != nil {
				return nil, fmt.Errorf("%w: content %d: %v", ErrMalformed, i, err)
			}
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if err := unmarshalAll(explicitInner(ci.Content), &ed); err != nil {
				return nil, fmt.Errorf("%w: encrypted content %d: %v", ErrMalformed, i, err)
			}
			ciphertext, err := implicitOctets(ed.EncryptedContentInfo.EncryptedContent)
			if err != nil {
				return nil, fmt.Errorf("%w: encrypted content %d: %v", ErrMalformed, i, err)
			}
			safe, err = decrypt(ed.EncryptedContentInfo.ContentEncryptionAlgorithm, ciphertext, password)
			if err != nil {
				return nil, fmt.Errorf("decrypt content %d: %w", i, err)
			}
			if !isDERSequence(safe) {
				// Without a MAC, a wrong key can still leave valid padding.
				return nil, fmt.Errorf("decrypt content %d: %w", i, ErrIncorrectPassword)
			}
		default:
			return nil, &UnsupportedAlgorithmError{Usage: "content type", OID: ci.ContentType}
		}
		if err := readSafeContents(safe, password, out); err != nil {
			return nil, fmt.Errorf("content %d: %w", i, err)
		}
	}
	return out, nil
}

func readSafeContents(der []byte, password string, out *Contents) error {
	var bags []safeBag
	if err := unmarshalAll(der, &bags); err != nil {
		// A wrong password without a MAC lands here when the padding
		// happened to look right.
		return fmt.Errorf("%w: SafeContents: %v", ErrMalformed, err)
	}
	for i, bag := range bags {
		switch {
		case bag.ID.Equal(oidKeyBag):
			out.PrivateKeys = append(out.PrivateKeys, explicitInner(bag.Value))
		case bag.ID.Equal(oidPKCS8ShroudedKeyBag):
			var epki encryptedPrivateKeyInfo
			if err := unmarshalAll(explicitInner(bag.Value), &epki); err != nil {
				return fmt.Errorf("%w: bag %d: EncryptedPrivateKeyInfo: %v", ErrMalformed, i, err)
			}
			key, err := decrypt(epki.Algorithm, epki.EncryptedData, password)
			if err != nil {
				return fmt.Errorf("decrypt key in bag %d: %w", i, err)
			}
			if !isDERSequence(key) {
				return fmt.Errorf("decrypt key in bag %d: %w", i, ErrIncorrectPassword)
			}
			out.PrivateKeys = append(out.PrivateKeys, key)
		case bag.ID.Equal(oidCertBag):
			var cb certBag
			if err := unmarshalAll(explicitInner(bag.Value), &cb); err != nil {
				return fmt.Errorf("%w: bag %d: CertBag: %v", ErrMalformed, i, err)
			}
			if !cb.ID.Equal(oidX509Certificate) {
				continue // SDSI certificates: nothing a signer uses.
			}
			out.Certificates = append(out.Certificates, cb.Data)
		default:
			// CRL and secret bags carry nothing a signer needs.
		}
	}
	return nil
}

// verifyMAC checks the file's MAC (RFC 7292 §5, Appendix B; for Streebog
// the TC26 key derivation as OpenSSL implements it).
func verifyMAC(md *macData, authSafe []byte, password string) error {
	alg := md.Mac.Algorithm.Algorithm
	newHash, gost := macHash(alg)
	if newHash == nil {
		return &UnsupportedAlgorithmError{Usage: "MAC digest", OID: alg}
	}
	if md.Iterations < 1 || md.Iterations > maxIterations {
		return fmt.Errorf("%w: MAC iteration count %d", ErrMalformed, md.Iterations)
	}
	var candidates [][]byte
	if gost {
		key, err := gostMACKey(newHash, password, md.MacSalt, md.Iterations)
		if err != nil {
			return err
		}
		candidates = append(candidates, key)
	} else {
		size := newHash().Size()
		for _, pw := range bmpPasswords(password) {
			candidates = append(candidates, pkcs12KDF(newHash, 3, pw, md.MacSalt, md.Iterations, size))
		}
	}
	for _, key := range candidates {
		mac := hmac.New(newHash, key)
		mac.Write(authSafe)
		if hmac.Equal(mac.Sum(nil), md.Mac.Digest) {
			return nil
		}
	}
	return ErrIncorrectPassword
}

// unmarshalAll decodes der into v and insists nothing follows.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

// octetString returns the contents of a DER OCTET STRING, joining the
// segments of a constructed (BER) one.
func octetString(der []byte) ([]byte, error) {
	var raw asn1.RawValue
	if err := unmarshalAll(der, &raw); err != nil {
		return nil, err
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagOctetString {
		return nil, fmt.Errorf("want OCTET STRING, got class %d tag %d", raw.Class, raw.Tag)
	}
	return joinSegments(raw)
}

// implicitOctets returns the bytes of an [n] IMPLICIT OCTET STRING, which
// BER producers may split into constructed segments.
func implicitOctets(raw asn1.RawValue) ([]byte, error) {
	if len(raw.FullBytes) == 0 {
		return nil, errors.New("no encrypted content")
	}
	return joinSegments(raw)
}

func joinSegments(raw asn1.RawValue) ([]byte, error) {
	if !raw.IsCompound {
		return raw.Bytes, nil
	}
	var out []byte
	rest := raw.Bytes
	for depth := 0; len(rest) > 0; depth++ {
		var seg asn1.RawValue
		var err error
		rest, err = asn1.Unmarshal(rest, &seg)
		if err != nil {
			return nil, err
		}
		if seg.Class != asn1.ClassUniversal || seg.Tag != asn1.TagOctetString || seg.IsCompound {
			return nil, errors.New("bad OCTET STRING segment")
		}
		out = append(out, seg.Bytes...)
	}
	return out, nil
}

// isDERSequence reports whether b is exactly one DER SEQUENCE.
func isDERSequence(b []byte) bool {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	return err == nil && len(rest) == 0 && raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagSequence
}

// explicitInner returns the DER of the element inside an [0] EXPLICIT
// field decoded into a RawValue.
func explicitInner(raw asn1.RawValue) []byte {
	if raw.Class == asn1.ClassContextSpecific {
		return raw.Bytes
	}
	return raw.FullBytes
}

// hashFunc is a hash constructor.
type hashFunc = func() hash.Hash

// DecryptPrivateKeyInfo opens a PKCS #8 EncryptedPrivateKeyInfo (RFC 5958
// §3, the DER inside an "ENCRYPTED PRIVATE KEY" PEM block as `openssl
// genpkey -aes-256-cbc` or `openssl pkcs8 -topk8` writes it) and returns
// the PrivateKeyInfo DER. It takes the same password-based schemes as a
// PKCS #12 key bag: PBES2 with PBKDF2 (HMAC-SHA-1/2 or HMAC-Streebog) and
// AES-CBC, or pbeWithSHAAnd3-KeyTripleDES-CBC.
func DecryptPrivateKeyInfo(der []byte, password string) ([]byte, error) {
	var epki encryptedPrivateKeyInfo
	if err := unmarshalAll(der, &epki); err != nil {
		return nil, fmt.Errorf("%w: EncryptedPrivateKeyInfo: %v", ErrMalformed, err)
	}
	key, err := decrypt(epki.Algorithm, epki.EncryptedData, password)
	if err != nil {
		return nil, fmt.Errorf("decrypt private key: %w", err)
	}
	if !isDERSequence(key) {
		return nil, fmt.Errorf("decrypt private key: %w", ErrIncorrectPassword)
	}
	return key, nil
}
