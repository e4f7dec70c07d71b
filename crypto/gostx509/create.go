package gostx509

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// DigestSigner signs digests with one key. Every signer.Signer is one; so is
// a bare key that has no certificate yet (a self-signed root's).
type DigestSigner interface {
	Algorithm() signer.Algorithm
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// Template describes a certificate to create. Go's x509.CreateCertificate
// cannot sign with ГОСТ keys, so CreateCertificate builds the
// TBSCertificate itself from these fields.
type Template struct {
	// SerialNumber is the certificate's serial number, positive.
	SerialNumber *big.Int
	// Subject is the holder's name and identifiers.
	Subject Subject
	// NotBefore and NotAfter bound the validity period.
	NotBefore time.Time
	NotAfter  time.Time
	// IsCA makes a CA certificate: basicConstraints cA (critical).
	IsCA bool
	// MaxPathLen is a CA's pathLenConstraint; negative means none.
	MaxPathLen int
	// KeyUsage is written as a critical extension when not zero.
	KeyUsage x509.KeyUsage
	// ExtKeyUsage lists extended key usage OIDs (x509's ExtKeyUsage
	// constants have no OID accessor, and Russian certificates use their
	// own purposes too).
	ExtKeyUsage []asn1.ObjectIdentifier
	// ExtraExtensions are added as given, after the ones above (e.g.
	// subjectSignTool 1.2.643.100.111 of a qualified certificate).
	ExtraExtensions []pkix.Extension
}

// Extended key usage purposes a signing certificate may carry.
var (
	// OIDExtKeyUsageClientAuth is id-kp-clientAuth.
	OIDExtKeyUsageClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	// OIDExtKeyUsageEmailProtection is id-kp-emailProtection, which
	// OpenSSL's `cms -verify` asks of a signer with an EKU extension.
	OIDExtKeyUsageEmailProtection = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
)

var (
	oidExtSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtCRLNumber        = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidExtAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

type tbsCertificate struct {
	Version            int `asn1:"explicit,tag:0"`
	SerialNumber       *big.Int
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           validity
	Subject            asn1.RawValue
	PublicKey          asn1.RawValue
	Extensions         []pkix.Extension `asn1:"explicit,tag:3"`
}

type validity struct {
	NotBefore, NotAfter asn1.RawValue
}

type basicConstraints struct {
	IsCA       bool `asn1:"optional"`
	MaxPathLen int  `asn1:"optional,default:-1"`
}

type authorityKeyID struct {
	ID []byte `asn1:"optional,tag:0"`
}

// marshalTime encodes t as RFC 5280 §4.1.2.5 asks: UTCTime through 2049,
// GeneralizedTime from 2050.
func marshalTime(t time.Time) (asn1.RawValue, error) {
	t = t.UTC().Truncate(time.Second)
	var der []byte
	var err error
	if t.Year() >= 1950 && t.Year() < 2050 {
		der, err = asn1.Marshal(t)
	} else {
		der, err = asn1.MarshalWithParams(t, "generalized")
	}
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("marshal time: %w", err)
	}
	return asn1.RawValue{FullBytes: der}, nil
}

// marshalKeyUsage encodes a KeyUsage bit string the way crypto/x509 does:
// bit 0 (digitalSignature) first, trailing zero bits dropped.
func marshalKeyUsage(ku x509.KeyUsage) ([]byte, error) {
	var bits [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			bits[i/8] |= 0x80 >> (i % 8)
			n = i + 1
		}
	}
	return asn1.Marshal(asn1.BitString{Bytes: bits[:(n+7)/8], BitLength: n})
}

// signTBS signs DER to-be-signed bytes with key and returns the signature
// algorithm identifier and the signature as certificates and CRLs carry it:
// s || r for ГОСТ, a DER Ecdsa-Sig-Value for ECDSA.
func signTBS(ctx context.Context, tbs []byte, key DigestSigner) ([]byte, error) {
	alg := key.Algorithm()
	algID, err := SignatureAlgorithmIdentifier(alg)
	if err != nil {
		return nil, err
	}
	h := alg.NewHash()
	h.Write(tbs)
	sig, err := key.SignDigest(ctx, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if len(sig) != alg.SignatureSize() {
		return nil, fmt.Errorf("%w: signer returned %d bytes for %s", ErrMalformed, len(sig), alg)
	}
	if alg == signer.ECDSAP256SHA256 {
		if sig, err = ecdsaRawToASN1(sig); err != nil {
			return nil, err
		}
	}
	der, err := asn1.Marshal(signedObject{
		TBS:       asn1.RawValue{FullBytes: tbs},
		Algorithm: algID,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal signed object: %w", err)
	}
	return der, nil
}

// ecdsaRawToASN1 turns r || s into a DER Ecdsa-Sig-Value.
func ecdsaRawToASN1(sig []byte) ([]byte, error) {
	half := len(sig) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:]),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal ECDSA signature: %w", err)
	}
	return der, nil
}

// ECDSARawToASN1 turns a raw ECDSA signature r || s (what signer.Signer
// returns) into the DER Ecdsa-Sig-Value that X.509 and CMS carry.
func ECDSARawToASN1(sig []byte) ([]byte, error) {
	if len(sig) != 64 {
		return nil, fmt.Errorf("%w: ECDSA P-256 signature is %d bytes, want 64", ErrMalformed, len(sig))
	}
	return ecdsaRawToASN1(sig)
}

// keyID is the RFC 5280 §4.2.1.2 method (1) key identifier: SHA-1 of the
// subjectPublicKey BIT STRING's bytes.
func keyID(spki []byte) ([]byte, error) {
	var info subjectPublicKeyInfo
	if err := unmarshalDER(spki, &info, "subject public key info"); err != nil {
		return nil, err
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return sum[:], nil
}

// CreateCertificate builds and signs a DER certificate for the public key
// pub (a *gost3410.PublicKey or a P-256 *ecdsa.PublicKey). issuer is the
// issuing CA's certificate, or nil for a self-signed one; key signs, and
// must be the issuer's key (or pub's own, self-signed). The certificate
// carries subject and authority key identifiers.
func CreateCertificate(ctx context.Context, tmpl *Template, pub crypto.PublicKey, issuer *x509.Certificate, key DigestSigner) ([]byte, error) {
	if tmpl == nil || key == nil {
		return nil, fmt.Errorf("%w: nil template or key", ErrMalformed)
	}
	if tmpl.SerialNumber == nil || tmpl.SerialNumber.Sign() <= 0 {
		return nil, fmt.Errorf("%w: serial number must be positive", ErrMalformed)
	}
	spki, err := marshalAnyPublicKeyInfo(pub)
	if err != nil {
		return nil, err
	}
	skid, err := keyID(spki)
	if err != nil {
		return nil, err
	}
	rdn, err := tmpl.Subject.RDNSequence()
	if err != nil {
		return nil, err
	}
	subject, err := asn1.Marshal(rdn)
	if err != nil {
		return nil, fmt.Errorf("marshal subject: %w", err)
	}
	issuerName, akid := subject, skid
	signerPub := pub
	if issuer != nil {
		issuerName, akid = issuer.RawSubject, issuer.SubjectKeyId
		if signerPub, err = PublicKey(issuer); err != nil {
			return nil, fmt.Errorf("issuer key: %w", err)
		}
	}
	if alg, err := KeyAlgorithm(signerPub); err != nil {
		return nil, err
	} else if alg != key.Algorithm() {
		return nil, fmt.Errorf("%w: issuer key is %s, signer is %s", ErrAlgorithmMismatch, alg, key.Algorithm())
	}

	var exts []pkix.Extension
	addExt := func(oid asn1.ObjectIdentifier, critical bool, v any) error {
		der, err := asn1.Marshal(v)
		if err != nil {
			return fmt.Errorf("marshal extension %v: %w", oid, err)
		}
		exts = append(exts, pkix.Extension{Id: oid, Critical: critical, Value: der})
		return nil
	}
	if tmpl.IsCA {
		bc := basicConstraints{IsCA: true, MaxPathLen: -1}
		if tmpl.MaxPathLen >= 0 {
			bc.MaxPathLen = tmpl.MaxPathLen
		}
		if err := addExt(oidExtBasicConstraints, true, bc); err != nil {
			return nil, err
		}
	}
	if tmpl.KeyUsage != 0 {
		ku, err := marshalKeyUsage(tmpl.KeyUsage)
		if err != nil {
			return nil, fmt.Errorf("marshal key usage: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: ku})
	}
	if len(tmpl.ExtKeyUsage) > 0 {
		if err := addExt(oidExtExtKeyUsage, false, tmpl.ExtKeyUsage); err != nil {
			return nil, err
		}
	}
	if err := addExt(oidExtSubjectKeyID, false, skid); err != nil {
		return nil, err
	}
	if len(akid) > 0 {
		if err := addExt(oidExtAuthorityKeyID, false, authorityKeyID{ID: akid}); err != nil {
			return nil, err
		}
	}
	exts = append(exts, tmpl.ExtraExtensions...)

	algID, err := SignatureAlgorithmIdentifier(key.Algorithm())
	if err != nil {
		return nil, err
	}
	notBefore, err := marshalTime(tmpl.NotBefore)
	if err != nil {
		return nil, err
	}
	notAfter, err := marshalTime(tmpl.NotAfter)
	if err != nil {
		return nil, err
	}
	tbs, err := asn1.Marshal(tbsCertificate{
		Version:            2,
		SerialNumber:       tmpl.SerialNumber,
		SignatureAlgorithm: algID,
		Issuer:             asn1.RawValue{FullBytes: issuerName},
		Validity:           validity{notBefore, notAfter},
		Subject:            asn1.RawValue{FullBytes: subject},
		PublicKey:          asn1.RawValue{FullBytes: spki},
		Extensions:         exts,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal TBSCertificate: %w", err)
	}
	return signTBS(ctx, tbs, key)
}

// CRLTemplate describes a CRL to create.
type CRLTemplate struct {
	// Number is the cRLNumber extension; required (RFC 5280 §5.2.3).
	Number *big.Int
	// ThisUpdate is when the CRL was issued, NextUpdate when the next
	// one will be at the latest.
	ThisUpdate time.Time
	NextUpdate time.Time
	// Revoked lists the revoked certificates.
	Revoked []Revocation
	// ExtraExtensions are added as given after authorityKeyIdentifier and
	// cRLNumber.
	ExtraExtensions []pkix.Extension
}

// Revocation is one revoked certificate.
type Revocation struct {
	// SerialNumber is the revoked certificate's serial number.
	SerialNumber *big.Int
	// RevokedAt is when it was revoked.
	RevokedAt time.Time
}

type tbsCertList struct {
	Version             int
	Signature           pkix.AlgorithmIdentifier
	Issuer              asn1.RawValue
	ThisUpdate          asn1.RawValue
	NextUpdate          asn1.RawValue
	RevokedCertificates []revokedCert    `asn1:"optional"`
	Extensions          []pkix.Extension `asn1:"explicit,tag:0"`
}

type revokedCert struct {
	SerialNumber *big.Int
	RevokedAt    asn1.RawValue
}

// CreateCRL builds and signs a DER v2 CRL of issuer with key, the issuer's
// key, carrying authorityKeyIdentifier and cRLNumber.
func CreateCRL(ctx context.Context, tmpl *CRLTemplate, issuer *x509.Certificate, key DigestSigner) ([]byte, error) {
	if tmpl == nil || issuer == nil || key == nil {
		return nil, fmt.Errorf("%w: nil template, issuer or key", ErrMalformed)
	}
	if tmpl.Number == nil || tmpl.Number.Sign() < 0 {
		return nil, fmt.Errorf("%w: CRL number must be non-negative", ErrMalformed)
	}
	if alg, err := Algorithm(issuer); err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	} else if alg != key.Algorithm() {
		return nil, fmt.Errorf("%w: issuer key is %s, signer is %s", ErrAlgorithmMismatch, alg, key.Algorithm())
	}
	algID, err := SignatureAlgorithmIdentifier(key.Algorithm())
	if err != nil {
		return nil, err
	}
	list := tbsCertList{Version: 1, Signature: algID, Issuer: asn1.RawValue{FullBytes: issuer.RawSubject}}
	if list.ThisUpdate, err = marshalTime(tmpl.ThisUpdate); err != nil {
		return nil, err
	}
	if list.NextUpdate, err = marshalTime(tmpl.NextUpdate); err != nil {
		return nil, err
	}
	for _, r := range tmpl.Revoked {
		if r.SerialNumber == nil {
			return nil, fmt.Errorf("%w: revocation without a serial number", ErrMalformed)
		}
		at, err := marshalTime(r.RevokedAt)
		if err != nil {
			return nil, err
		}
		list.RevokedCertificates = append(list.RevokedCertificates, revokedCert{r.SerialNumber, at})
	}
	akid, err := asn1.Marshal(authorityKeyID{ID: issuer.SubjectKeyId})
	if err != nil {
		return nil, fmt.Errorf("marshal authority key identifier: %w", err)
	}
	number, err := asn1.Marshal(tmpl.Number)
	if err != nil {
		return nil, fmt.Errorf("marshal CRL number: %w", err)
	}
	list.Extensions = append([]pkix.Extension{{Id: oidExtAuthorityKeyID, Value: akid}, {Id: oidExtCRLNumber, Value: number}}, tmpl.ExtraExtensions...)
	tbs, err := asn1.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("marshal TBSCertList: %w", err)
	}
	return signTBS(ctx, tbs, key)
}
