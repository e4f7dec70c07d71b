package gostx509

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// publicKeyParams is GostR3410-2012-PublicKeyParameters (RFC 9215 §4). The
// 2001 encryptionParamSet may follow; it is read and ignored.
type publicKeyParams struct {
	PublicKeyParamSet  asn1.ObjectIdentifier
	DigestParamSet     asn1.ObjectIdentifier `asn1:"optional"`
	EncryptionParamSet asn1.ObjectIdentifier `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// unmarshalDER parses exactly one DER value into out.
func unmarshalDER(der []byte, out any, what string) error {
	rest, err := asn1.Unmarshal(der, out)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, what, len(rest))
	}
	return nil
}

// keyOIDForSize is the public key algorithm OID of a coordinate size.
func keyOIDForSize(size int) asn1.ObjectIdentifier {
	if size == 64 {
		return OIDPublicKey512
	}
	return OIDPublicKey256
}

// sizeForKeyOID is the coordinate size of a public key algorithm OID, or 0.
func sizeForKeyOID(oid asn1.ObjectIdentifier) int {
	switch {
	case oid.Equal(OIDPublicKey256):
		return 32
	case oid.Equal(OIDPublicKey512):
		return 64
	}
	return 0
}

// parseKeyAlgorithm resolves a ГОСТ 2012 AlgorithmIdentifier of a public or
// private key to its curve.
func parseKeyAlgorithm(alg pkix.AlgorithmIdentifier) (*gost3410.Curve, error) {
	size := sizeForKeyOID(alg.Algorithm)
	if size == 0 {
		return nil, fmt.Errorf("%w: key algorithm %v", ErrUnsupportedAlgorithm, alg.Algorithm)
	}
	var params publicKeyParams
	if err := unmarshalDER(alg.Parameters.FullBytes, &params, "key parameters"); err != nil {
		return nil, err
	}
	curve, err := gost3410.CurveByOID(params.PublicKeyParamSet)
	if err != nil || curve == nil {
		return nil, fmt.Errorf("%w: parameter set %v", ErrUnsupportedAlgorithm, params.PublicKeyParamSet)
	}
	if curve.Size() != size {
		return nil, fmt.Errorf("%w: %d-bit parameter set %v under a %d-bit key algorithm",
			ErrAlgorithmMismatch, curve.Size()*8, params.PublicKeyParamSet, size*8)
	}
	// A digestParamSet of the other Streebog size contradicts the key;
	// anything else (absent, the matching one, a 34.11-94 set in a
	// transition-era certificate) says nothing the key does not.
	if d := params.DigestParamSet; (size == 32 && d.Equal(OIDDigest512)) || (size == 64 && d.Equal(OIDDigest256)) {
		return nil, fmt.Errorf("%w: digest parameter set %v for a %d-bit key", ErrAlgorithmMismatch, d, size*8)
	}
	return curve, nil
}

// keyAlgorithm is the AlgorithmIdentifier of a key on c, with the
// digestParamSet where OpenSSL's gost engine writes it.
func keyAlgorithm(c *gost3410.Curve) (pkix.AlgorithmIdentifier, error) {
	params := publicKeyParams{PublicKeyParamSet: c.OID}
	withDigest := true
	for _, oid := range paramSetsWithoutDigest {
		if oid.Equal(c.OID) {
			withDigest = false
		}
	}
	if withDigest {
		params.DigestParamSet = OIDDigest256
		if c.Size() == 64 {
			params.DigestParamSet = OIDDigest512
		}
	}
	der, err := asn1.Marshal(params)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, fmt.Errorf("marshal key parameters: %w", err)
	}
	return pkix.AlgorithmIdentifier{Algorithm: keyOIDForSize(c.Size()), Parameters: asn1.RawValue{FullBytes: der}}, nil
}

// ParsePublicKeyInfo parses a DER SubjectPublicKeyInfo holding a ГОСТ Р
// 34.10-2012 key (RFC 9215 §4: the key is an OCTET STRING of little-endian
// X || little-endian Y inside the BIT STRING) and checks the point.
func ParsePublicKeyInfo(der []byte) (*gost3410.PublicKey, error) {
	var info subjectPublicKeyInfo
	if err := unmarshalDER(der, &info, "subject public key info"); err != nil {
		return nil, err
	}
	curve, err := parseKeyAlgorithm(info.Algorithm)
	if err != nil {
		return nil, err
	}
	if info.PublicKey.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: public key bit string is not whole bytes", ErrMalformed)
	}
	var raw []byte
	if err := unmarshalDER(info.PublicKey.Bytes, &raw, "public key octet string"); err != nil {
		return nil, err
	}
	if len(raw) != 2*curve.Size() {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(raw), 2*curve.Size())
	}
	pub, err := gost3410.UnmarshalPublicKeyRaw(curve, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	return pub, nil
}

// MarshalPublicKeyInfo returns the DER SubjectPublicKeyInfo of a ГОСТ key,
// as OpenSSL's gost engine writes it.
func MarshalPublicKeyInfo(pub *gost3410.PublicKey) ([]byte, error) {
	if pub == nil || pub.Curve == nil || pub.X == nil || pub.Y == nil {
		return nil, fmt.Errorf("%w: incomplete public key", ErrMalformed)
	}
	alg, err := keyAlgorithm(pub.Curve)
	if err != nil {
		return nil, err
	}
	raw, err := asn1.Marshal(pub.MarshalRaw())
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	der, err := asn1.Marshal(subjectPublicKeyInfo{Algorithm: alg, PublicKey: asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)}})
	if err != nil {
		return nil, fmt.Errorf("marshal subject public key info: %w", err)
	}
	return der, nil
}

// marshalAnyPublicKeyInfo is MarshalPublicKeyInfo for a ГОСТ key and
// x509.MarshalPKIXPublicKey for an ECDSA P-256 one.
func marshalAnyPublicKeyInfo(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *gost3410.PublicKey:
		return MarshalPublicKeyInfo(k)
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key not on P-256", ErrUnsupportedAlgorithm)
		}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("marshal ECDSA public key: %w", err)
		}
		return der, nil
	}
	return nil, fmt.Errorf("%w: public key type %T", ErrUnsupportedAlgorithm, pub)
}

// PublicKey returns a certificate's public key: a *gost3410.PublicKey for a
// ГОСТ Р 34.10-2012 key, an *ecdsa.PublicKey for ECDSA P-256.
func PublicKey(cert *x509.Certificate) (crypto.PublicKey, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: nil certificate", ErrMalformed)
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key not on P-256", ErrUnsupportedAlgorithm)
		}
		return k, nil
	}
	if cert.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm {
		return nil, fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, cert.PublicKeyAlgorithm)
	}
	pub, err := ParsePublicKeyInfo(cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("certificate public key: %w", err)
	}
	return pub, nil
}

// KeyAlgorithm returns the signature algorithm a public key signs with.
func KeyAlgorithm(pub crypto.PublicKey) (signer.Algorithm, error) {
	switch k := pub.(type) {
	case *gost3410.PublicKey:
		if k == nil || k.Curve == nil || k.X == nil || k.Y == nil {
			return 0, fmt.Errorf("%w: incomplete ГОСТ public key", ErrMalformed)
		}
		if k.Curve.Size() == 64 {
			return signer.GOST2012_512, nil
		}
		return signer.GOST2012_256, nil
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return signer.ECDSAP256SHA256, nil
		}
	}
	return 0, fmt.Errorf("%w: public key type %T", ErrUnsupportedAlgorithm, pub)
}

// Algorithm returns the signature algorithm of a certificate's key: the
// algorithm its holder signs with.
func Algorithm(cert *x509.Certificate) (signer.Algorithm, error) {
	pub, err := PublicKey(cert)
	if err != nil {
		return 0, err
	}
	return KeyAlgorithm(pub)
}

// pkcs8 is PrivateKeyInfo (RFC 5208), or OneAsymmetricKey (RFC 5958) whose
// attributes and public key are read and ignored.
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

// ParsePKCS8PrivateKey parses a DER PKCS#8 ГОСТ Р 34.10-2012 private key.
// The key inside the privateKey OCTET STRING may be the raw little-endian
// bytes (what OpenSSL's gost engine writes), an inner OCTET STRING of them,
// or an INTEGER (big-endian), as the engine reads.
func ParsePKCS8PrivateKey(der []byte) (*gost3410.PrivateKey, error) {
	var info pkcs8
	if err := unmarshalDER(der, &info, "PKCS#8 private key"); err != nil {
		return nil, err
	}
	if info.Version != 0 && info.Version != 1 {
		return nil, fmt.Errorf("%w: PKCS#8 version %d", ErrMalformed, info.Version)
	}
	curve, err := parseKeyAlgorithm(info.Algorithm)
	if err != nil {
		return nil, err
	}
	size := curve.Size()
	var d *big.Int
	switch p := info.PrivateKey; {
	case len(p) == size:
		d = new(big.Int).SetBytes(reversed(p))
	case len(p) > 0 && p[0] == asn1.TagOctetString:
		var inner []byte
		if err := unmarshalDER(p, &inner, "private key octet string"); err != nil {
			return nil, err
		}
		if len(inner) != size {
			return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrMalformed, len(inner), size)
		}
		d = new(big.Int).SetBytes(reversed(inner))
	case len(p) > 0 && p[0] == asn1.TagInteger:
		d = new(big.Int)
		if err := unmarshalDER(p, &d, "private key integer"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrMalformed, len(p), size)
	}
	key, err := gost3410.NewPrivateKey(curve, d)
	if err != nil {
		// The error of the key's own package may say why d is out of
		// range, never d itself.
		return nil, fmt.Errorf("%w: private key out of range", ErrMalformed)
	}
	return key, nil
}

// MarshalPKCS8PrivateKey returns the DER PKCS#8 form of a ГОСТ private key
// exactly as OpenSSL's gost engine writes it: raw little-endian key bytes in
// the privateKey OCTET STRING.
func MarshalPKCS8PrivateKey(key *gost3410.PrivateKey) ([]byte, error) {
	if key == nil || key.Curve == nil || key.D == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrMalformed)
	}
	alg, err := keyAlgorithm(key.Curve)
	if err != nil {
		return nil, err
	}
	size := key.Curve.Size()
	if key.D.Sign() <= 0 || key.D.BitLen() > 8*size {
		return nil, fmt.Errorf("%w: private key out of range", ErrMalformed)
	}
	d := key.D.FillBytes(make([]byte, size))
	der, err := asn1.Marshal(pkcs8{Algorithm: alg, PrivateKey: reversed(d)})
	if err != nil {
		return nil, fmt.Errorf("marshal PKCS#8 private key: %w", err)
	}
	return der, nil
}

// ParsePrivateKey parses a DER PKCS#8 private key: a *gost3410.PrivateKey
// for ГОСТ Р 34.10-2012, an *ecdsa.PrivateKey for ECDSA P-256.
func ParsePrivateKey(der []byte) (crypto.PrivateKey, error) {
	var info pkcs8
	if err := unmarshalDER(der, &info, "PKCS#8 private key"); err != nil {
		return nil, err
	}
	if sizeForKeyOID(info.Algorithm.Algorithm) != 0 {
		return ParsePKCS8PrivateKey(der)
	}
	if !info.Algorithm.Algorithm.Equal(OIDPublicKeyECDSA) {
		return nil, fmt.Errorf("%w: private key algorithm %v", ErrUnsupportedAlgorithm, info.Algorithm.Algorithm)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: ECDSA private key", ErrMalformed)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: ECDSA private key not on P-256", ErrUnsupportedAlgorithm)
	}
	return ek, nil
}

// ParsePrivateKeyPEM parses the first "PRIVATE KEY" PEM block of data (an
// unencrypted PKCS#8 key, as `openssl genpkey` writes it).
func ParsePrivateKeyPEM(data []byte) (crypto.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: no PRIVATE KEY PEM block", ErrMalformed)
		}
		if block.Type == "PRIVATE KEY" {
			return ParsePrivateKey(block.Bytes)
		}
	}
}

// MarshalPrivateKeyPEM returns a ГОСТ or ECDSA P-256 private key as a PKCS#8
// "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.PrivateKey) ([]byte, error) {
	var der []byte
	var err error
	switch k := key.(type) {
	case *gost3410.PrivateKey:
		der, err = MarshalPKCS8PrivateKey(k)
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, fmt.Errorf("%w: nil private key", ErrMalformed)
		}
		der, err = x509.MarshalPKCS8PrivateKey(k)
	default:
		return nil, fmt.Errorf("%w: private key type %T", ErrUnsupportedAlgorithm, key)
	}
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertificatesPEM parses every "CERTIFICATE" PEM block of data, a
// bundle as CA distributions ship it; other blocks are skipped.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d of the bundle: %v", ErrMalformed, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrMalformed)
	}
	return certs, nil
}

// reversed returns a reversed copy of b.
func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}
