// Package cms verifies and creates detached CMS SignedData (RFC 5652) with
// ГОСТ Р 34.10-2012 signatures (RFC 4490, RFC 9215) as РЭМД takes them for
// a СЭМД: one signer per container, the signer's certificate inside, the
// content digest and the signing time as signed attributes (CAdES-BES).
// ECDSA P-256 with SHA-256 is handled the same way, for tools that know no
// ГОСТ.
//
// Verify checks the container and the signature and returns who signed,
// when, and the content's digest; whether the signer's certificate chains
// to a trusted root is gostx509.Verifier's job, at the signing time Verify
// returns (Options.Verifier does both).
package cms

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertV2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidPublicKeyECDSA       = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSignatureECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial asn1.RawValue
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// SignedData is a parsed detached CMS SignedData with exactly one signer
// whose certificate is inside and whose algorithms fit its key. Parse
// checks the structure; Verify and VerifyDigest check the signature.
type SignedData struct {
	// Certificates are every certificate in the container, the signer's
	// among them (the rest may complete its chain).
	Certificates []*x509.Certificate
	// Signer is the signer's certificate.
	Signer *x509.Certificate
	// Algorithm is the signer's algorithm (digest and signature).
	Algorithm signer.Algorithm
	// SigningTime is the signingTime signed attribute.
	SigningTime time.Time
	// MessageDigest is the messageDigest signed attribute: the digest of
	// the content the signer signed.
	MessageDigest []byte

	// What verification uses: private, so that changing the exported
	// fields above cannot change what is checked.
	signer        *x509.Certificate
	alg           signer.Algorithm
	signingTime   time.Time
	messageDigest []byte
	contentType   asn1.ObjectIdentifier
	signedAttrs   []byte // the DER of the attributes as a SET, what is signed
	signature     []byte
	certHashes    []essCertID
}

// Parse parses DER ContentInfo holding detached SignedData, and checks
// what needs no signature math: one signer, its certificate inside,
// algorithms fitting its key, and the contentType, messageDigest and
// signingTime signed attributes.
//
// BER (indefinite lengths, constructed OCTET STRINGs), as streaming
// encoders write it, is read too.
func Parse(der []byte) (*SignedData, error) {
	// DER comes out of berToDER as it went in; what does not convert
	// fails below with encoding/asn1's more telling error.
	if converted, err := berToDER(der); err == nil {
		der = converted
	}
	var ci contentInfo
	if err := unmarshalDER(der, &ci, "ContentInfo"); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type %v", ErrNotSignedData, ci.ContentType)
	}
	var sd signedData
	if err := unmarshalDER(ci.Content.Bytes, &sd, "SignedData"); err != nil {
		return nil, err
	}
	if sd.EncapContentInfo.EContent.FullBytes != nil {
		return nil, ErrNotDetached
	}
	switch len(sd.SignerInfos) {
	case 0:
		return nil, ErrNoSigners
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d signers", ErrMultipleSigners, len(sd.SignerInfos))
	}
	out := &SignedData{contentType: sd.EncapContentInfo.EContentType}
	var err error
	if out.Certificates, err = parseCertificates(sd.Certificates); err != nil {
		return nil, err
	}
	var si signerInfo
	if err := unmarshalDER(sd.SignerInfos[0].FullBytes, &si, "SignerInfo"); err != nil {
		return nil, err
	}
	if out.Signer, err = findSigner(si, out.Certificates); err != nil {
		return nil, err
	}
	if out.Algorithm, err = gostx509.Algorithm(out.Signer); err != nil {
		return nil, fmt.Errorf("%w: signer's key: %v", ErrUnknownAlgorithm, err)
	}
	if err := checkAlgorithms(out.Algorithm, si.DigestAlgorithm, si.SignatureAlgorithm); err != nil {
		return nil, err
	}
	if err := out.parseSignedAttrs(si.SignedAttrs); err != nil {
		return nil, err
	}
	out.signature = si.Signature
	out.signer, out.alg, out.signingTime = out.Signer, out.Algorithm, out.SigningTime
	out.messageDigest = bytes.Clone(out.MessageDigest)
	return out, nil
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

// parseCertificates parses the certificates [0] IMPLICIT SET OF
// CertificateChoices, skipping choices other than a plain certificate.
func parseCertificates(set asn1.RawValue) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := set.Bytes
	for len(rest) > 0 {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return nil, fmt.Errorf("%w: certificates: %v", ErrMalformed, err)
		}
		if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagSequence {
			continue
		}
		c, err := x509.ParseCertificate(v.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrMalformed, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// findSigner returns the certificate the SignerInfo's sid names: by issuer
// and serial number (version 1) or by subject key identifier (version 3).
func findSigner(si signerInfo, certs []*x509.Certificate) (*x509.Certificate, error) {
	sid := si.SID
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if err := unmarshalDER(sid.FullBytes, &ias, "issuerAndSerialNumber"); err != nil {
			return nil, err
		}
		for _, c := range certs {
			serial, err := asn1.Marshal(c.SerialNumber)
			if err != nil {
				continue
			}
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && bytes.Equal(serial, ias.Serial.FullBytes) {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: signer identifier", ErrMalformed)
	}
	return nil, ErrNoEndEntityCertificate
}

// checkAlgorithms checks the SignerInfo's digest and signature algorithms
// against the signer's key. For ГОСТ the signature algorithm may be the
// key's algorithm (RFC 4490 §3.2, what OpenSSL and CryptoPro write) or
// signWithDigest (RFC 9215); parameters must be absent or NULL.
func checkAlgorithms(alg signer.Algorithm, digest, sig pkix.AlgorithmIdentifier) error {
	for _, a := range []pkix.AlgorithmIdentifier{digest, sig} {
		if p := a.Parameters.FullBytes; len(p) != 0 && !bytes.Equal(p, asn1.NullBytes) {
			return fmt.Errorf("%w: parameters on algorithm %v", ErrMalformed, a.Algorithm)
		}
	}
	digestAlg, ok := digestAlgorithms[digest.Algorithm.String()]
	if !ok {
		return fmt.Errorf("%w: digest algorithm %v", ErrUnknownAlgorithm, digest.Algorithm)
	}
	if digestAlg != alg {
		return fmt.Errorf("%w: digest %v with a %s key", ErrAlgorithmMismatch, digest.Algorithm, alg)
	}
	sigAlg, ok := signatureAlgorithms[sig.Algorithm.String()]
	if !ok {
		return fmt.Errorf("%w: signature algorithm %v", ErrUnknownAlgorithm, sig.Algorithm)
	}
	if sigAlg != alg {
		return fmt.Errorf("%w: signature algorithm %v with a %s key", ErrAlgorithmMismatch, sig.Algorithm, alg)
	}
	return nil
}

var digestAlgorithms = map[string]signer.Algorithm{
	gostx509.OIDDigest256.String():    signer.GOST2012_256,
	gostx509.OIDDigest512.String():    signer.GOST2012_512,
	gostx509.OIDDigestSHA256.String(): signer.ECDSAP256SHA256,
}

var signatureAlgorithms = map[string]signer.Algorithm{
	gostx509.OIDPublicKey256.String(): signer.GOST2012_256,
	gostx509.OIDSignature256.String(): signer.GOST2012_256,
	gostx509.OIDPublicKey512.String(): signer.GOST2012_512,
	gostx509.OIDSignature512.String(): signer.GOST2012_512,
	oidSignatureECDSASHA256.String():  signer.ECDSAP256SHA256,
	oidPublicKeyECDSA.String():        signer.ECDSAP256SHA256,
}

// parseSignedAttrs reads contentType, messageDigest, signingTime and
// signingCertificateV2, and keeps the attributes' DER as a SET: the signed
// bytes are the [0] IMPLICIT field re-tagged as SET OF (RFC 5652 §5.4).
func (sd *SignedData) parseSignedAttrs(raw asn1.RawValue) error {
	if raw.FullBytes == nil {
		return ErrNoSignedAttributes
	}
	sd.signedAttrs = append([]byte{0x31}, raw.FullBytes[1:]...)
	seen := make(map[string]bool)
	var haveType, haveDigest bool
	rest := raw.Bytes
	for len(rest) > 0 {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return fmt.Errorf("%w: signed attribute: %v", ErrMalformed, err)
		}
		key := a.Type.String()
		if seen[key] {
			return fmt.Errorf("%w: attribute %v repeated", ErrBadAttribute, a.Type)
		}
		seen[key] = true
		switch {
		case a.Type.Equal(oidAttrContentType):
			var ct asn1.ObjectIdentifier
			if err := singleValue(a, &ct); err != nil {
				return err
			}
			if !ct.Equal(sd.contentType) {
				return fmt.Errorf("%w: contentType %v, content is %v", ErrBadAttribute, ct, sd.contentType)
			}
			haveType = true
		case a.Type.Equal(oidAttrMessageDigest):
			if err := singleValue(a, &sd.MessageDigest); err != nil {
				return err
			}
			haveDigest = true
		case a.Type.Equal(oidAttrSigningTime):
			if err := singleValue(a, &sd.SigningTime); err != nil {
				return err
			}
		case a.Type.Equal(oidAttrSigningCertV2):
			var sc signingCertificateV2
			if err := singleValue(a, &sc); err != nil {
				return err
			}
			if len(sc.Certs) == 0 {
				return fmt.Errorf("%w: signingCertificateV2 without certificates", ErrBadAttribute)
			}
			sd.certHashes = sc.Certs
		}
	}
	switch {
	case !haveType:
		return fmt.Errorf("%w: no contentType", ErrBadAttribute)
	case !haveDigest:
		return fmt.Errorf("%w: no messageDigest", ErrBadAttribute)
	case sd.SigningTime.IsZero():
		return ErrNoSigningTime
	}
	if want := sd.Algorithm.NewHash().Size(); len(sd.MessageDigest) != want {
		return fmt.Errorf("%w: messageDigest is %d bytes, %s makes %d", ErrBadAttribute, len(sd.MessageDigest), sd.Algorithm, want)
	}
	if err := sd.checkSigningCertificate(); err != nil {
		return err
	}
	return nil
}

// singleValue parses an attribute's SET of exactly one value into out.
func singleValue(a attribute, out any) error {
	if a.Values.Class != asn1.ClassUniversal || a.Values.Tag != asn1.TagSet {
		return fmt.Errorf("%w: attribute %v values are not a SET", ErrMalformed, a.Type)
	}
	rest, err := asn1.Unmarshal(a.Values.Bytes, out)
	if err != nil {
		return fmt.Errorf("%w: attribute %v: %v", ErrBadAttribute, a.Type, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: attribute %v has more than one value", ErrBadAttribute, a.Type)
	}
	return nil
}
