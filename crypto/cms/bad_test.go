package cms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// withAttrs builds a container whose signed attributes are attrs, signed
// for real by s.
func withAttrs(t *testing.T, s signer.Signer, attrs []attr) []byte {
	t.Helper()
	der, err := encodeAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	digestAlg, sigAlg, err := cmsAlgorithms(s.Algorithm())
	if err != nil {
		t.Fatal(err)
	}
	out, err := assemble(t.Context(), s, digestAlg, sigAlg, der, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// patchLast replaces the last occurrence of old in der by new.
func patchLast(t *testing.T, der, old, new []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(der, old)
	if i < 0 {
		t.Fatalf("%x not found", old)
	}
	out := append([]byte(nil), der...)
	copy(out[i:], new)
	return out
}

// patchFirstLast replaces the first and the last occurrence of old: in a
// container, the SignedData's digestAlgorithms and the SignerInfo's, around
// the certificates (whose key parameters name the digest too).
func patchFirstLast(t *testing.T, der, old, new []byte) []byte {
	t.Helper()
	i := bytes.Index(der, old)
	if i < 0 {
		t.Fatalf("%x not found", old)
	}
	out := patchLast(t, der, old, new)
	copy(out[i:], new)
	return out
}

func oidDER(oid asn1.ObjectIdentifier) []byte {
	b, _ := asn1.Marshal(oid)
	return b
}

// TestBadContainers: every way a container can be wrong is refused with
// its own error, and none panics.
func TestBadContainers(t *testing.T) {
	ctx := context.Background()
	alg := signer.GOST2012_256
	p := newPKI(t, alg)
	doc := document(4096)
	at := t0.Add(-time.Hour)
	good, err := Sign(ctx, p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: at, Certificates: []*x509.Certificate{p.inter.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	h := alg.NewHash()
	h.Write(doc)
	digest := h.Sum(nil)
	signTime := func(when time.Time) []byte {
		der, err := Sign(ctx, p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: when})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	// The doctor's certificate with another person's key behind it.
	other := newPKI(t, alg)
	impostor := keySigner{mustDigestSigner(t, other.doctorKey), p.doctor.Certificate()}
	impostorDER, err := Sign(ctx, impostor, bytes.NewReader(doc), SignOptions{SigningTime: at})
	if err != nil {
		t.Fatal(err)
	}
	// signingCertificateV2 naming the other doctor's certificate.
	h = alg.NewHash()
	h.Write(other.doctor.Certificate().Raw)
	wrongV2 := signingCertificateV2{Certs: []essCertID{{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: gostx509.OIDDigest256}, CertHash: h.Sum(nil)}}}
	unknownV2 := signingCertificateV2{Certs: []essCertID{{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 3}}, CertHash: []byte{1}}}}
	ct := attr{oidAttrContentType, oidData}
	md := attr{oidAttrMessageDigest, digest}
	st := attr{oidAttrSigningTime, at}
	octets, _ := asn1.Marshal(doc)
	dataCI, _ := asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidData, asn1.RawValue{Class: asn1.ClassContextSpecific, IsCompound: true, Bytes: octets}})
	tamperedSig := append([]byte(nil), good...)
	tamperedSig[len(tamperedSig)-1] ^= 1
	atDER, _ := asn1.Marshal(at)
	laterDER, _ := asn1.Marshal(at.Add(time.Second))
	otherTrust := other.verifier(t)

	for _, tc := range []struct {
		name    string
		der     []byte
		content []byte
		opts    Options
		want    error
	}{
		{name: "good", der: good, content: doc, opts: Options{Verifier: p.verifier(t)}},
		{name: "empty", der: nil, content: doc, want: ErrMalformed},
		{name: "garbage", der: []byte("-----BEGIN PKCS7-----"), content: doc, want: ErrMalformed},
		{name: "truncated", der: good[:len(good)/2], content: doc, want: ErrMalformed},
		{name: "trailing byte", der: append(append([]byte(nil), good...), 0), content: doc, want: ErrMalformed},
		{name: "data, not SignedData", der: dataCI, content: doc, want: ErrNotSignedData},
		{name: "other content", der: good, content: doc[1:], want: ErrDigestMismatch},
		{name: "tampered signature", der: tamperedSig, content: doc, want: ErrBadSignature},
		{name: "tampered signing time", der: patchLast(t, good, atDER, laterDER), content: doc, want: ErrBadSignature},
		{name: "another person's key", der: impostorDER, content: doc, want: ErrBadSignature},
		{name: "signed after the certificate expired", der: signTime(t0.AddDate(0, 7, 0)), content: doc, want: gostx509.ErrExpired},
		{name: "signed before the certificate was valid", der: signTime(t0.AddDate(0, -7, 0)), content: doc, want: gostx509.ErrNotYetValid},
		{name: "untrusted chain", der: good, content: doc, opts: Options{Verifier: otherTrust}, want: gostx509.ErrUnknownIssuer},
		{name: "no signing time", der: withAttrs(t, p.doctor, []attr{ct, md}), content: doc, want: ErrNoSigningTime},
		{name: "no message digest", der: withAttrs(t, p.doctor, []attr{ct, st}), content: doc, want: ErrBadAttribute},
		{name: "no content type", der: withAttrs(t, p.doctor, []attr{md, st}), content: doc, want: ErrBadAttribute},
		{name: "content type of another content", der: withAttrs(t, p.doctor, []attr{{oidAttrContentType, oidSignedData}, md, st}), content: doc, want: ErrBadAttribute},
		{name: "repeated attribute", der: withAttrs(t, p.doctor, []attr{ct, md, st, st}), content: doc, want: ErrBadAttribute},
		{name: "signing time of the wrong type", der: withAttrs(t, p.doctor, []attr{ct, md, {oidAttrSigningTime, "yesterday"}}), content: doc, want: ErrBadAttribute},
		{name: "short message digest", der: withAttrs(t, p.doctor, []attr{ct, {oidAttrMessageDigest, digest[:20]}, st}), content: doc, want: ErrBadAttribute},
		{name: "signingCertificateV2 of another certificate", der: withAttrs(t, p.doctor, []attr{ct, md, st, {oidAttrSigningCertV2, wrongV2}}), content: doc, want: ErrSigningCertificateMismatch},
		{name: "signingCertificateV2 with an unknown hash", der: withAttrs(t, p.doctor, []attr{ct, md, st, {oidAttrSigningCertV2, unknownV2}}), content: doc, want: ErrUnknownAlgorithm},
		{name: "512-bit digest for a 256-bit key", der: patchFirstLast(t, good, oidDER(gostx509.OIDDigest256), oidDER(gostx509.OIDDigest512)), content: doc, want: ErrAlgorithmMismatch},
		{name: "unknown digest", der: patchFirstLast(t, good, oidDER(gostx509.OIDDigest256), oidDER(asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 9})), content: doc, want: ErrUnknownAlgorithm},
		{name: "512-bit signature for a 256-bit key", der: patchLast(t, good, oidDER(gostx509.OIDPublicKey256), oidDER(gostx509.OIDPublicKey512)), content: doc, want: ErrAlgorithmMismatch},
		{name: "ECDSA signature for a ГОСТ key", der: patchLast(t, good, oidDER(gostx509.OIDPublicKey256), oidDER(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1, 9})[:10]), content: doc, want: ErrUnknownAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(tc.der, bytes.NewReader(tc.content), tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if err == nil && !res.Signer.Equal(p.doctor.Certificate()) {
				t.Error("another signer returned")
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte(doctor.SNILS)) {
				t.Errorf("error %q carries the СНИЛС", err)
			}
		})
	}
}

func mustDigestSigner(t *testing.T, key any) gostx509.DigestSigner {
	t.Helper()
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestSignRefuses: a signer whose certificate does not fit its algorithm,
// or a digest of the wrong size, is refused before anything is signed.
func TestSignRefuses(t *testing.T) {
	p256 := newPKI(t, signer.GOST2012_256)
	p512 := newPKI(t, signer.GOST2012_512)
	mixed := keySigner{mustDigestSigner(t, p512.doctorKey), p256.doctor.Certificate()}
	if _, err := SignDigest(t.Context(), mixed, make([]byte, 64), SignOptions{}); !errors.Is(err, ErrAlgorithmMismatch) {
		t.Errorf("512-bit key with a 256-bit certificate: %v", err)
	}
	if _, err := SignDigest(t.Context(), p256.doctor, make([]byte, 64), SignOptions{}); !errors.Is(err, ErrAlgorithmMismatch) {
		t.Errorf("64-byte digest for a 256-bit key: %v", err)
	}
	if _, err := SignDigest(t.Context(), keySigner{mustDigestSigner(t, p256.doctorKey), nil}, make([]byte, 32), SignOptions{}); !errors.Is(err, ErrNoEndEntityCertificate) {
		t.Errorf("signer without a certificate: %v", err)
	}
	if _, err := Sign(t.Context(), nil, bytes.NewReader(nil), SignOptions{}); !errors.Is(err, ErrNoEndEntityCertificate) {
		t.Errorf("nil signer: %v", err)
	}
	if _, err := SignDigest(t.Context(), p256.doctor, make([]byte, 32), SignOptions{Certificates: []*x509.Certificate{nil}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil extra certificate: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := SignDigest(ctx, p256.doctor, make([]byte, 32), SignOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestExportedFieldsDoNotSteer: what a caller writes into a parsed
// SignedData's fields does not change what VerifyDigest checks.
func TestExportedFieldsDoNotSteer(t *testing.T) {
	p := newPKI(t, signer.GOST2012_256)
	q := newPKI(t, signer.GOST2012_256)
	doc := document(100)
	der, err := Sign(t.Context(), p.doctor, bytes.NewReader(doc), SignOptions{SigningTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	h := sd.ContentHash()
	h.Write([]byte("other"))
	other := h.Sum(nil)
	sd.MessageDigest = other
	sd.Signer = q.doctor.Certificate()
	if err := sd.VerifyDigest(other); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("after rewriting MessageDigest: %v, want ErrDigestMismatch", err)
	}
	if err := sd.Verify(bytes.NewReader(doc)); err != nil {
		t.Errorf("the real content: %v", err)
	}
	var zero SignedData
	if err := zero.VerifyDigest(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("zero SignedData: %v", err)
	}
}
