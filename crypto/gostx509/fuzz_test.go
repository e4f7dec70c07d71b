package gostx509

import (
	"crypto/x509"
	"math/big"
	"testing"
)

// fuzzSeeds are DER a fuzz target starts from: a GOST 256 and a 512 key,
// certificate and CRL.
type fuzzSeeds struct {
	spki, pkcs8, certs, crls [][]byte
}

func newFuzzSeeds(f *testing.F) fuzzSeeds {
	var s fuzzSeeds
	for _, alg := range allAlgorithms {
		p := newPKI(f, alg)
		if der, err := MarshalPKCS8PrivateKey(asGOST(p.leafKey)); err == nil {
			s.pkcs8 = append(s.pkcs8, der)
		}
		s.spki = append(s.spki, p.leaf.RawSubjectPublicKeyInfo)
		s.certs = append(s.certs, p.leaf.Raw, p.inter.Certificate.Raw)
		_, crl, err := p.inter.CRL(f.Context(), CRLTemplate{Number: big.NewInt(1), ThisUpdate: t0, NextUpdate: t0.AddDate(0, 0, 1),
			Revoked: []Revocation{{SerialNumber: big.NewInt(5), RevokedAt: t0}}})
		if err != nil {
			f.Fatal(err)
		}
		s.crls = append(s.crls, crl)
	}
	return s
}

func FuzzParsePublicKeyInfo(f *testing.F) {
	for _, b := range newFuzzSeeds(f).spki {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		pub, err := ParsePublicKeyInfo(der)
		if err != nil {
			return
		}
		if _, err := MarshalPublicKeyInfo(pub); err != nil {
			t.Fatalf("a parsed key does not marshal: %v", err)
		}
		_ = VerifyDigestWithKey(pub, make([]byte, pub.Curve.Size()), make([]byte, 2*pub.Curve.Size()))
	})
}

func FuzzParsePKCS8PrivateKey(f *testing.F) {
	for _, b := range newFuzzSeeds(f).pkcs8 {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		if _, err := ParsePrivateKey(der); err != nil {
			return
		}
	})
}

// FuzzCertificate runs what the package reads of a certificate (its key,
// subject identifiers, extended key usage, signature) over anything
// crypto/x509 parses.
func FuzzCertificate(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, b := range s.certs {
		f.Add(b)
	}
	roots := []*x509.Certificate{}
	for _, b := range s.certs {
		if c, err := x509.ParseCertificate(b); err == nil {
			roots = append(roots, c)
		}
	}
	v, err := NewVerifier(VerifierConfig{Roots: roots[1:2]})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		_, _ = PublicKey(c)
		_, _ = SubjectOf(c)
		_, _, _ = extKeyUsage(c)
		_ = CheckCertificateSignature(c, c)
		_, _ = v.Verify(c, VerifyOptions{At: t0, Now: t0, Intermediates: roots, ExtKeyUsage: nil, KeyUsage: x509.KeyUsageDigitalSignature})
	})
}

func FuzzParseCRL(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, b := range s.crls {
		f.Add(b)
	}
	issuer, err := x509.ParseCertificate(s.certs[1])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		crl, err := ParseCRL(der)
		if err != nil {
			return
		}
		_ = CheckCRLSignature(crl, issuer)
	})
}
