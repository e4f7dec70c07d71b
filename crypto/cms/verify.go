package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

// signingCertificateV2 is the ESS attribute of RFC 5035 §3.
type signingCertificateV2 struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

// essCertID is ESSCertIDv2; an absent hashAlgorithm means SHA-256.
type essCertID struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

// essHash returns a new hash for an ESSCertIDv2 hash algorithm.
func essHash(alg pkix.AlgorithmIdentifier) (hash.Hash, error) {
	switch {
	case len(alg.Algorithm) == 0, alg.Algorithm.Equal(gostx509.OIDDigestSHA256):
		return sha256.New(), nil
	case alg.Algorithm.Equal(gostx509.OIDDigest256):
		return streebog.New256(), nil
	case alg.Algorithm.Equal(gostx509.OIDDigest512):
		return streebog.New512(), nil
	}
	return nil, fmt.Errorf("%w: signingCertificateV2 hash %v", ErrUnknownAlgorithm, alg.Algorithm)
}

// checkSigningCertificate checks that the first ESSCertIDv2, the one that
// names the signing certificate (RFC 5035 §3), hashes to the signer's.
func (sd *SignedData) checkSigningCertificate() error {
	if len(sd.certHashes) == 0 {
		return nil
	}
	id := sd.certHashes[0]
	h, err := essHash(id.HashAlgorithm)
	if err != nil {
		return err
	}
	h.Write(sd.Signer.Raw) // during Parse, before anything is exported
	if !bytes.Equal(h.Sum(nil), id.CertHash) {
		return ErrSigningCertificateMismatch
	}
	return nil
}

// ContentHash returns a new hash of the kind the signer digested the
// content with, for a caller that digests the content itself.
func (sd *SignedData) ContentHash() hash.Hash { return sd.alg.NewHash() }

// VerifyDigest checks that digest, the content's digest made with
// ContentHash, is the signed messageDigest, that the signature over the
// signed attributes verifies with the signer's key, and that the signer's
// certificate was valid at the signing time.
func (sd *SignedData) VerifyDigest(digest []byte) error {
	if sd.signer == nil {
		return fmt.Errorf("%w: SignedData not made by Parse", ErrMalformed)
	}
	if !bytes.Equal(digest, sd.messageDigest) {
		return ErrDigestMismatch
	}
	h := sd.alg.NewHash()
	h.Write(sd.signedAttrs)
	if err := verifySignature(sd.signer, sd.alg, h.Sum(nil), sd.signature); err != nil {
		return err
	}
	switch {
	case sd.signingTime.Before(sd.signer.NotBefore):
		return fmt.Errorf("signer's certificate at the signing time: %w", gostx509.ErrNotYetValid)
	case sd.signingTime.After(sd.signer.NotAfter):
		return fmt.Errorf("signer's certificate at the signing time: %w", gostx509.ErrExpired)
	}
	return nil
}

// Verify digests content and does VerifyDigest.
func (sd *SignedData) Verify(content io.Reader) error {
	h := sd.ContentHash()
	if _, err := io.Copy(h, content); err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	return sd.VerifyDigest(h.Sum(nil))
}

// verifySignature checks a SignerInfo signature: s || r for ГОСТ (RFC
// 4490 §3.2), a DER Ecdsa-Sig-Value for ECDSA (RFC 5753).
func verifySignature(cert *x509.Certificate, alg signer.Algorithm, digest, sig []byte) error {
	if alg == signer.ECDSAP256SHA256 {
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !ecdsa.VerifyASN1(pub, digest, sig) {
			return ErrBadSignature
		}
		return nil
	}
	if err := gostx509.VerifyDigest(cert, digest, sig); err != nil {
		if errors.Is(err, gostx509.ErrBadSignature) {
			return ErrBadSignature
		}
		return fmt.Errorf("verify signature: %w", err)
	}
	return nil
}

// Options are the checks Verify does beyond the signature.
type Options struct {
	// Verifier, when set, verifies the signer's certificate chain at the
	// signing time, with the container's other certificates as
	// intermediates and a key usage allowing signatures.
	Verifier *gostx509.Verifier
}

// Result is a verified signature.
type Result struct {
	// Signer is the signer's certificate; who that is (СНИЛС, ОГРН:
	// gostx509.SubjectOf) is for the caller to compare with whom it expects.
	Signer *x509.Certificate
	// Chain is the verified chain, signer first, when Options.Verifier was set.
	Chain []*x509.Certificate
	// SigningTime is the signed signingTime.
	SigningTime time.Time
	// Algorithm is the signer's algorithm.
	Algorithm signer.Algorithm
	// Digest is the content's digest: signatures of one file by several
	// signers with one algorithm have equal digests (INCONSISTENT_DIGESTS).
	Digest []byte
}

// Verify parses a DER detached SignedData, verifies it over content and,
// with opts.Verifier, the signer's chain at the signing time.
func Verify(der []byte, content io.Reader, opts Options) (*Result, error) {
	sd, err := Parse(der)
	if err != nil {
		return nil, err
	}
	if err := sd.Verify(content); err != nil {
		return nil, err
	}
	res := &Result{Signer: sd.signer, SigningTime: sd.signingTime, Algorithm: sd.alg, Digest: bytes.Clone(sd.messageDigest)}
	if opts.Verifier != nil {
		var intermediates []*x509.Certificate
		for _, c := range sd.Certificates {
			if c != sd.signer {
				intermediates = append(intermediates, c)
			}
		}
		res.Chain, err = opts.Verifier.Verify(sd.signer, gostx509.VerifyOptions{
			Intermediates: intermediates,
			At:            sd.signingTime,
			KeyUsage:      x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		})
		if err != nil {
			return nil, fmt.Errorf("signer's certificate chain: %w", err)
		}
	}
	return res, nil
}
