package gostx509

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// VerifyDigest checks sig over digest with the public key of cert. digest
// is made with the certificate's algorithm's hash (Algorithm(cert).NewHash())
// and sig is raw, as signer.Signer returns it: s || r for ГОСТ, r || s for
// ECDSA P-256. It returns nil or an error wrapping ErrBadSignature,
// ErrAlgorithmMismatch, ErrUnsupportedAlgorithm or ErrMalformed.
func VerifyDigest(cert *x509.Certificate, digest, sig []byte) error {
	pub, err := PublicKey(cert)
	if err != nil {
		return err
	}
	return VerifyDigestWithKey(pub, digest, sig)
}

// VerifyDigestWithAlgorithm is VerifyDigest for a signature that says
// which algorithm made it (an XML SignatureMethod, a SignerInfo): alg must
// be the certificate key's algorithm, else ErrAlgorithmMismatch, so that a
// claimed algorithm never chooses how a key is used.
func VerifyDigestWithAlgorithm(cert *x509.Certificate, alg signer.Algorithm, digest, sig []byte) error {
	pub, err := PublicKey(cert)
	if err != nil {
		return err
	}
	keyAlg, err := KeyAlgorithm(pub)
	if err != nil {
		return err
	}
	if keyAlg != alg {
		return fmt.Errorf("%w: %s signature by a %s key", ErrAlgorithmMismatch, alg, keyAlg)
	}
	return VerifyDigestWithKey(pub, digest, sig)
}

// VerifyDigestWithKey is VerifyDigest with a public key (a
// *gost3410.PublicKey or a P-256 *ecdsa.PublicKey) instead of a certificate.
func VerifyDigestWithKey(pub crypto.PublicKey, digest, sig []byte) error {
	alg, err := KeyAlgorithm(pub)
	if err != nil {
		return err
	}
	if want := alg.NewHash().Size(); len(digest) != want {
		return fmt.Errorf("%w: digest is %d bytes, %s signs %d", ErrAlgorithmMismatch, len(digest), alg, want)
	}
	if want := alg.SignatureSize(); len(sig) != want {
		return fmt.Errorf("%w: signature is %d bytes, %s makes %d", ErrBadSignature, len(sig), alg, want)
	}
	switch k := pub.(type) {
	case *gost3410.PublicKey:
		if err := gost3410.VerifyDigest(k, digest, sig); err != nil {
			return fmt.Errorf("%w (%s)", ErrBadSignature, alg)
		}
		return nil
	case *ecdsa.PublicKey:
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest, r, s) {
			return fmt.Errorf("%w (%s)", ErrBadSignature, alg)
		}
		return nil
	}
	return fmt.Errorf("%w: public key type %T", ErrUnsupportedAlgorithm, pub)
}

// signatureAlgorithm maps a signature AlgorithmIdentifier of a certificate,
// a CRL or a CMS SignerInfo to the algorithm, refusing parameters other than
// absent or NULL (RFC 9215 §3 says absent; OpenSSL writes NULL).
func signatureAlgorithm(alg pkix.AlgorithmIdentifier) (signer.Algorithm, error) {
	if p := alg.Parameters.FullBytes; len(p) != 0 && !(len(p) == 2 && p[0] == asn1.TagNull && p[1] == 0) {
		return 0, fmt.Errorf("%w: parameters on signature algorithm %v", ErrMalformed, alg.Algorithm)
	}
	switch {
	case alg.Algorithm.Equal(OIDSignature256):
		return signer.GOST2012_256, nil
	case alg.Algorithm.Equal(OIDSignature512):
		return signer.GOST2012_512, nil
	case alg.Algorithm.Equal(OIDSignatureECDSASHA256):
		return signer.ECDSAP256SHA256, nil
	}
	return 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedAlgorithm, alg.Algorithm)
}

// SignatureAlgorithmIdentifier returns the AlgorithmIdentifier certificates
// and CRLs carry for a signature algorithm (parameters absent, RFC 9215 §3
// and RFC 5758 §3.2).
func SignatureAlgorithmIdentifier(alg signer.Algorithm) (pkix.AlgorithmIdentifier, error) {
	switch alg {
	case signer.GOST2012_256:
		return pkix.AlgorithmIdentifier{Algorithm: OIDSignature256}, nil
	case signer.GOST2012_512:
		return pkix.AlgorithmIdentifier{Algorithm: OIDSignature512}, nil
	case signer.ECDSAP256SHA256:
		return pkix.AlgorithmIdentifier{Algorithm: OIDSignatureECDSASHA256}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("%w: %v", ErrUnsupportedAlgorithm, alg)
}

// signedObject is the outer SEQUENCE of a certificate and of a CRL: the
// signed part, its signature algorithm and the signature.
type signedObject struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// checkSignedObject verifies the signature of a DER certificate or CRL with
// issuer's key. For ГОСТ the BIT STRING holds s || r (RFC 4491 §2.2.2); for
// ECDSA a DER Ecdsa-Sig-Value.
func checkSignedObject(raw []byte, issuer *x509.Certificate) error {
	var obj signedObject
	if err := unmarshalDER(raw, &obj, "signed object"); err != nil {
		return err
	}
	alg, err := signatureAlgorithm(obj.Algorithm)
	if err != nil {
		return err
	}
	pub, err := PublicKey(issuer)
	if err != nil {
		return fmt.Errorf("issuer key: %w", err)
	}
	keyAlg, err := KeyAlgorithm(pub)
	if err != nil {
		return err
	}
	if keyAlg != alg {
		return fmt.Errorf("%w: signed with %s by a %s key", ErrAlgorithmMismatch, alg, keyAlg)
	}
	if obj.Signature.BitLength%8 != 0 {
		return fmt.Errorf("%w: signature bit string is not whole bytes", ErrMalformed)
	}
	h := alg.NewHash()
	h.Write(obj.TBS.FullBytes)
	digest := h.Sum(nil)
	sig := obj.Signature.Bytes
	if alg == signer.ECDSAP256SHA256 {
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig) {
			return fmt.Errorf("%w (%s)", ErrBadSignature, alg)
		}
		return nil
	}
	return VerifyDigestWithKey(pub, digest, sig)
}

// CheckCertificateSignature verifies that issuer signed cert. It checks
// the signature only: not names, validity or the issuer's right to sign.
func CheckCertificateSignature(cert, issuer *x509.Certificate) error {
	if cert == nil || issuer == nil {
		return fmt.Errorf("%w: nil certificate", ErrMalformed)
	}
	if err := checkSignedObject(cert.Raw, issuer); err != nil {
		return fmt.Errorf("certificate signature: %w", err)
	}
	return nil
}

// CheckCRLSignature verifies that issuer signed crl. It checks the
// signature only: not names, validity or the issuer's right to sign CRLs.
func CheckCRLSignature(crl *x509.RevocationList, issuer *x509.Certificate) error {
	if crl == nil || issuer == nil {
		return fmt.Errorf("%w: nil CRL or issuer", ErrMalformed)
	}
	if err := checkSignedObject(crl.Raw, issuer); err != nil {
		return fmt.Errorf("CRL signature: %w", err)
	}
	return nil
}
