package cms

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// SignOptions are what Sign puts in the container beyond the signature.
type SignOptions struct {
	// SigningTime is the signingTime attribute; zero means now.
	SigningTime time.Time
	// Certificates are added after the signer's (its CA chain, so that a
	// verifier without the intermediates can build the chain).
	Certificates []*x509.Certificate
	// SigningCertificateV2 adds the ESS signingCertificateV2 attribute
	// (RFC 5035) naming the signer's certificate by its hash with the
	// signer's digest (CAdES-BES).
	SigningCertificateV2 bool
}

// Sign digests content with the signer's hash and returns a DER detached
// CMS SignedData over it, signed by s.
func Sign(ctx context.Context, s signer.Signer, content io.Reader, opts SignOptions) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrNoEndEntityCertificate)
	}
	h := s.Algorithm().NewHash()
	if h == nil {
		return nil, fmt.Errorf("%w: signer algorithm %v", ErrUnknownAlgorithm, s.Algorithm())
	}
	if _, err := io.Copy(h, content); err != nil {
		return nil, fmt.Errorf("read content: %w", err)
	}
	return SignDigest(ctx, s, h.Sum(nil), opts)
}

// SignDigest is Sign for a content digest the caller made with
// s.Algorithm().NewHash().
func SignDigest(ctx context.Context, s signer.Signer, digest []byte, opts SignOptions) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrNoEndEntityCertificate)
	}
	for _, c := range opts.Certificates {
		if c == nil {
			return nil, fmt.Errorf("%w: nil certificate in SignOptions", ErrMalformed)
		}
	}
	alg := s.Algorithm()
	cert := s.Certificate()
	if cert == nil {
		return nil, fmt.Errorf("%w: signer has no certificate", ErrNoEndEntityCertificate)
	}
	if keyAlg, err := gostx509.Algorithm(cert); err != nil || keyAlg != alg {
		return nil, fmt.Errorf("%w: signer's algorithm %s, certificate key %v", ErrAlgorithmMismatch, alg, keyAlg)
	}
	if h := alg.NewHash(); h == nil || len(digest) != h.Size() {
		return nil, fmt.Errorf("%w: %d-byte digest for %s", ErrAlgorithmMismatch, len(digest), alg)
	}
	digestAlg, sigAlg, err := cmsAlgorithms(alg)
	if err != nil {
		return nil, err
	}
	at := opts.SigningTime
	if at.IsZero() {
		at = time.Now()
	}
	attrs, err := signedAttributes(alg, digestAlg, digest, at.UTC(), cert, opts.SigningCertificateV2)
	if err != nil {
		return nil, err
	}
	return assemble(ctx, s, digestAlg, sigAlg, attrs, opts.Certificates)
}

// assemble signs the DER SET of signed attributes with s and wraps the
// signature in SignerInfo, SignedData and ContentInfo.
func assemble(ctx context.Context, s signer.Signer, digestAlg, sigAlg pkix.AlgorithmIdentifier, attrs []byte, extra []*x509.Certificate) ([]byte, error) {
	alg, cert := s.Algorithm(), s.Certificate()
	h := alg.NewHash()
	h.Write(attrs)
	sig, err := s.SignDigest(ctx, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign attributes: %w", err)
	}
	if len(sig) != alg.SignatureSize() {
		return nil, fmt.Errorf("%w: signer returned %d bytes for %s", ErrMalformed, len(sig), alg)
	}
	if alg == signer.ECDSAP256SHA256 {
		if sig, err = gostx509.ECDSARawToASN1(sig); err != nil {
			return nil, err
		}
	}
	serial, err := serialDER(cert.SerialNumber)
	if err != nil {
		return nil, fmt.Errorf("marshal serial number: %w", err)
	}
	sid, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: asn1.RawValue{FullBytes: serial}})
	if err != nil {
		return nil, fmt.Errorf("marshal signer identifier: %w", err)
	}
	// The signed attributes go in as [0] IMPLICIT: the SET's bytes re-tagged.
	implicitAttrs := append([]byte{0xa0}, attrs[1:]...)
	si, err := asn1.Marshal(signerInfo{
		Version:            1,
		SID:                asn1.RawValue{FullBytes: sid},
		DigestAlgorithm:    digestAlg,
		SignedAttrs:        asn1.RawValue{FullBytes: implicitAttrs},
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal SignerInfo: %w", err)
	}
	var certs []byte
	for _, c := range append([]*x509.Certificate{cert}, extra...) {
		certs = append(certs, c.Raw...)
	}
	sd, err := asn1.Marshal(signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlg},
		EncapContentInfo: encapContentInfo{EContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos:      []asn1.RawValue{{FullBytes: si}},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal SignedData: %w", err)
	}
	// A RawValue with FullBytes is written as is, explicit tag or not, so
	// the [0] EXPLICIT wrapper is spelled out.
	der, err := asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
	if err != nil {
		return nil, fmt.Errorf("marshal ContentInfo: %w", err)
	}
	return der, nil
}

// cmsAlgorithms are the digest and signature AlgorithmIdentifiers a
// SignerInfo carries, as OpenSSL writes them: for ГОСТ the Streebog OID and
// the key's algorithm OID with NULL parameters (RFC 4490 §3.2 names the key
// algorithm as the signature algorithm), for ECDSA sha256 and
// ecdsa-with-SHA256 without parameters (RFC 5754 §3.3).
func cmsAlgorithms(alg signer.Algorithm) (digest, sig pkix.AlgorithmIdentifier, err error) {
	null := asn1.RawValue{FullBytes: asn1.NullBytes}
	switch alg {
	case signer.GOST2012_256:
		return pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDDigest256, Parameters: null},
			pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDPublicKey256, Parameters: null}, nil
	case signer.GOST2012_512:
		return pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDDigest512, Parameters: null},
			pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDPublicKey512, Parameters: null}, nil
	case signer.ECDSAP256SHA256:
		return pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDDigestSHA256},
			pkix.AlgorithmIdentifier{Algorithm: oidSignatureECDSASHA256}, nil
	}
	return digest, sig, fmt.Errorf("%w: %v", ErrUnknownAlgorithm, alg)
}

// signedAttributes returns the DER SET OF Attribute that is signed, its
// members in DER order (sorted by their encodings, X.690 §11.6).
func signedAttributes(alg signer.Algorithm, digestAlg pkix.AlgorithmIdentifier, digest []byte, at time.Time, cert *x509.Certificate, withCertV2 bool) ([]byte, error) {
	attrs := []attr{
		{oidAttrContentType, oidData},
		{oidAttrSigningTime, at.Truncate(time.Second)},
		{oidAttrMessageDigest, digest},
	}
	if withCertV2 {
		h := alg.NewHash()
		h.Write(cert.Raw)
		id := essCertID{CertHash: h.Sum(nil)}
		if alg != signer.ECDSAP256SHA256 { // SHA-256 is the default, left out (DER)
			id.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: digestAlg.Algorithm}
		}
		issuerSerial, err := marshalIssuerSerial(cert)
		if err != nil {
			return nil, err
		}
		id.IssuerSerial = asn1.RawValue{FullBytes: issuerSerial}
		attrs = append(attrs, attr{oidAttrSigningCertV2, signingCertificateV2{Certs: []essCertID{id}}})
	}
	return encodeAttributes(attrs)
}

// attr is one signed attribute with its single value.
type attr struct {
	oid   asn1.ObjectIdentifier
	value any
}

// encodeAttributes returns the DER SET OF Attribute, each with its one
// value; a time is UTCTime, or GeneralizedTime outside 1950-2049.
func encodeAttributes(attrs []attr) ([]byte, error) {
	var encoded [][]byte
	for _, a := range attrs {
		var v []byte
		var err error
		if t, ok := a.value.(time.Time); ok && (t.Year() < 1950 || t.Year() >= 2050) {
			v, err = asn1.MarshalWithParams(t, "generalized")
		} else {
			v, err = asn1.Marshal(a.value)
		}
		if err != nil {
			return nil, fmt.Errorf("marshal attribute %v: %w", a.oid, err)
		}
		der, err := asn1.Marshal(attribute{Type: a.oid, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
		if err != nil {
			return nil, fmt.Errorf("marshal attribute %v: %w", a.oid, err)
		}
		encoded = append(encoded, der)
	}
	sort.Slice(encoded, func(i, j int) bool { return bytes.Compare(encoded[i], encoded[j]) < 0 })
	set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(encoded, nil)})
	if err != nil {
		return nil, fmt.Errorf("marshal signed attributes: %w", err)
	}
	return set, nil
}

// marshalIssuerSerial is IssuerSerial (RFC 5035): the issuer's name as a
// directoryName GeneralName, and the serial number.
func marshalIssuerSerial(cert *x509.Certificate) ([]byte, error) {
	dirName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer}
	generalNames := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true}
	var err error
	if generalNames.Bytes, err = asn1.Marshal(dirName); err != nil {
		return nil, fmt.Errorf("marshal issuer name: %w", err)
	}
	der, err := asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}{generalNames, cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("marshal IssuerSerial: %w", err)
	}
	return der, nil
}

// serialDER is the DER INTEGER of a serial number.
func serialDER(n *big.Int) ([]byte, error) { return asn1.Marshal(n) }
