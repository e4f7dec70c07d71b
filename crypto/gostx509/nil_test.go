package gostx509

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
)

// TestNilInputs: nil and half-built arguments are errors, never panics.
func TestNilInputs(t *testing.T) {
	var nilVerifier *Verifier
	for name, call := range map[string]func() error{
		"PublicKey(nil)":            func() error { _, err := PublicKey(nil); return err },
		"PublicKey(empty cert)":     func() error { _, err := PublicKey(&x509.Certificate{}); return err },
		"Algorithm(nil)":            func() error { _, err := Algorithm(nil); return err },
		"KeyAlgorithm(nil GOST)":    func() error { _, err := KeyAlgorithm((*gost3410.PublicKey)(nil)); return err },
		"KeyAlgorithm(nil ECDSA)":   func() error { _, err := KeyAlgorithm((*ecdsa.PublicKey)(nil)); return err },
		"KeyAlgorithm(empty GOST)":  func() error { _, err := KeyAlgorithm(&gost3410.PublicKey{}); return err },
		"VerifyDigest(nil)":         func() error { return VerifyDigest(nil, nil, nil) },
		"VerifyDigestWithKey(nil)":  func() error { return VerifyDigestWithKey(nil, nil, nil) },
		"Marshal nil public key":    func() error { _, err := MarshalPublicKeyInfo(nil); return err },
		"Marshal nil private key":   func() error { _, err := MarshalPKCS8PrivateKey(nil); return err },
		"Marshal nil ECDSA PEM":     func() error { _, err := MarshalPrivateKeyPEM((*ecdsa.PrivateKey)(nil)); return err },
		"NewDigestSigner(nil GOST)": func() error { _, err := NewDigestSigner((*gost3410.PrivateKey)(nil), rand.Reader); return err },
		"NewDigestSigner(nil)":      func() error { _, err := NewDigestSigner(nil, rand.Reader); return err },
		"CheckCertificateSignature": func() error { return CheckCertificateSignature(nil, nil) },
		"CheckCRLSignature":         func() error { return CheckCRLSignature(nil, nil) },
		"SubjectOf(nil)":            func() error { _, err := SubjectOf(nil); return err },
		"nil Verifier":              func() error { _, err := nilVerifier.Verify(&x509.Certificate{}, VerifyOptions{}); return err },
		"Verify(nil)": func() error {
			v, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{{}}})
			if err != nil {
				return err
			}
			_, err = v.Verify(nil, VerifyOptions{})
			return err
		},
		"NewVerifier(nil root)":      func() error { _, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{nil}}); return err },
		"CreateCertificate(nil key)": func() error { _, err := CreateCertificate(t.Context(), &Template{}, nil, nil, nil); return err },
		"CreateCertificate(nil pub)": func() error {
			k, _, err := GenerateKey(2, rand.Reader)
			if err != nil {
				return nil // reported below as "no error"
			}
			ds, _ := NewDigestSigner(k, rand.Reader)
			_, err = CreateCertificate(t.Context(), &Template{SerialNumber: bigOne()}, (*ecdsa.PublicKey)(nil), nil, ds)
			return err
		},
		"CreateCRL(nil)": func() error { _, err := CreateCRL(t.Context(), nil, nil, nil); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("%v wraps neither ErrMalformed nor ErrUnsupportedAlgorithm", err)
			}
		})
	}
}
