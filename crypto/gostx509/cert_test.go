package gostx509

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

var allAlgorithms = []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512, signer.ECDSAP256SHA256}

// TestCreateCertificate builds a doctor's and an organisation's
// certificates and reads back what went in.
func TestCreateCertificate(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			p := newPKI(t, alg)
			_, org, err := p.inter.IssueKey(t.Context(), alg, SigningTemplate(organisation, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				cert *x509.Certificate
				want Subject
			}{{p.leaf, doctor}, {org, organisation}} {
				got, err := SubjectOf(tc.cert)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("subject %+v, want %+v", got, tc.want)
				}
				if a, err := Algorithm(tc.cert); err != nil || a != alg {
					t.Errorf("Algorithm = %v, %v", a, err)
				}
				if err := CheckCertificateSignature(tc.cert, p.inter.Certificate); err != nil {
					t.Errorf("signature by the issuing CA: %v", err)
				}
				if err := CheckCertificateSignature(tc.cert, p.root.Certificate); !errors.Is(err, ErrBadSignature) {
					t.Errorf("signature checked with the root's key: %v, want ErrBadSignature", err)
				}
				if tc.cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
					t.Errorf("key usage %#x", tc.cert.KeyUsage)
				}
				if !tc.cert.NotBefore.Before(t0) || !tc.cert.NotAfter.After(t0) {
					t.Errorf("validity %v to %v", tc.cert.NotBefore, tc.cert.NotAfter)
				}
			}
			if !p.inter.Certificate.IsCA || !p.inter.Certificate.BasicConstraintsValid {
				t.Error("intermediate is not a CA")
			}
			if err := CheckCertificateSignature(p.root.Certificate, p.root.Certificate); err != nil {
				t.Errorf("self-signed root: %v", err)
			}
		})
	}
}

// TestSubjectIdentifiers checks the NumericString encoding and the digit
// checks of registration numbers, both ways.
func TestSubjectIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Subject
		ok   bool
	}{
		{"doctor", doctor, true},
		{"organisation", organisation, true},
		{"sole proprietor", Subject{CommonName: "ИП", OGRNIP: "304500116000157", INN: "500100732259"}, true},
		{"legal entity INN in INN", Subject{INN: "7701234567"}, true},
		{"SNILS with dashes", Subject{SNILS: "112-233-445 95"}, false},
		{"SNILS short", Subject{SNILS: "1122334459"}, false},
		{"INN 11 digits", Subject{INN: "50010073225"}, false},
		{"OGRN letters", Subject{OGRN: "10277001321OO"}, false},
		{"INNLE 12 digits", Subject{INNLE: "007701234567"}, false},
		{"OGRNIP 13 digits", Subject{OGRNIP: "1027700132195"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdn, err := tc.s.RDNSequence()
			if !tc.ok {
				if !errors.Is(err, ErrMalformedIdentifier) {
					t.Fatalf("RDNSequence: %v, want ErrMalformedIdentifier", err)
				}
				for _, v := range []string{tc.s.SNILS, tc.s.INN, tc.s.OGRN, tc.s.INNLE, tc.s.OGRNIP} {
					if v != "" && strings.Contains(err.Error(), v) {
						t.Errorf("error %q carries the identifier", err)
					}
				}
				// The same value in a parsed name is refused too.
				var name pkix.Name
				name.FillFromRDNSequence(&pkix.RDNSequence{})
				for _, a := range identifierAttrs {
					if v := *a.field(&tc.s); v != "" {
						name.Names = append(name.Names, pkix.AttributeTypeAndValue{Type: a.oid, Value: v})
					}
				}
				if _, err := SubjectOfName(name); !errors.Is(err, ErrMalformedIdentifier) {
					t.Errorf("SubjectOfName: %v, want ErrMalformedIdentifier", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			der, err := asn1.Marshal(rdn)
			if err != nil {
				t.Fatal(err)
			}
			var back pkix.RDNSequence
			if _, err := asn1.Unmarshal(der, &back); err != nil {
				t.Fatal(err)
			}
			var name pkix.Name
			name.FillFromRDNSequence(&back)
			got, err := SubjectOfName(name)
			if err != nil || got != tc.s {
				t.Fatalf("round trip: %+v, %v; want %+v", got, err, tc.s)
			}
			// Registration numbers are NumericString (tag 18).
			for _, set := range rdn {
				for _, atv := range set {
					for _, a := range identifierAttrs {
						if a.oid.Equal(atv.Type) && atv.Value.(asn1.RawValue).Tag != asn1.TagNumericString {
							t.Errorf("%s is not a NumericString", a.name)
						}
					}
				}
			}
		})
	}
}

// crlFor makes a CRL of ca at t0 revoking the given serials at t0 minus a day.
func crlFor(t testing.TB, ca *TestCA, thisUpdate, nextUpdate time.Time, revoked ...*big.Int) *x509.RevocationList {
	t.Helper()
	tmpl := CRLTemplate{Number: big.NewInt(7), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, s := range revoked {
		tmpl.Revoked = append(tmpl.Revoked, Revocation{SerialNumber: s, RevokedAt: t0.AddDate(0, 0, -1)})
	}
	crl, _, err := ca.CRL(t.Context(), tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// tampered returns c with one bit of its signature flipped.
func tampered(t testing.TB, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	raw := append([]byte(nil), c.Raw...)
	raw[len(raw)-5] ^= 0x01
	out, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyChain verifies chains that pass and chains that fail each for
// one reason, and wants that reason.
func TestVerifyChain(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) { testVerifyChain(t, alg) })
	}
}

func testVerifyChain(t *testing.T, alg signer.Algorithm) {
	ctx := context.Background()
	p := newPKI(t, alg)
	other := newPKI(t, alg)
	issue := func(tmpl Template) *x509.Certificate {
		t.Helper()
		_, c, err := p.inter.IssueKey(ctx, alg, tmpl)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	expired := issue(SigningTemplate(doctor, t0.AddDate(-2, 0, 0), t0.AddDate(-1, 0, 0)))
	future := issue(SigningTemplate(doctor, t0.AddDate(0, 1, 0), t0.AddDate(1, 0, 0)))
	revoked := issue(SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)))
	encOnly := SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
	encOnly.KeyUsage = x509.KeyUsageKeyEncipherment
	encipherment := issue(encOnly)
	noEmail := SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
	noEmail.ExtKeyUsage = []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth}
	clientOnly := issue(noEmail)

	// A certificate "issued" by the doctor's end-entity certificate.
	leafKey, err := NewDigestSigner(p.leafKey, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, subPub, err := GenerateKey(alg, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
	tmpl.SerialNumber = big.NewInt(99)
	der, err := CreateCertificate(ctx, &tmpl, subPub, p.leaf, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	underLeaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// A root limited to no intermediate CAs.
	limitedKey, limitedPub, err := GenerateKey(alg, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	limitedSigner, _ := NewDigestSigner(limitedKey, rand.Reader)
	der, err = CreateCertificate(ctx, &Template{SerialNumber: big.NewInt(1), Subject: Subject{CommonName: "Limited Root"},
		NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(1, 0, 0), IsCA: true, MaxPathLen: 0,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, limitedPub, nil, limitedSigner)
	if err != nil {
		t.Fatal(err)
	}
	limitedRootCert, _ := x509.ParseCertificate(der)
	limited := &TestCA{Certificate: limitedRootCert, Key: limitedKey, signer: limitedSigner, rand: rand.Reader, serial: 1}
	limitedInter, err := limited.IssueCA(ctx, Subject{CommonName: "Under Limited"}, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, underLimited, err := limitedInter.IssueKey(ctx, alg, SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}

	critical := []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}
	unknownCritTmpl := SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
	unknownCritTmpl.ExtraExtensions = critical
	unknownCritical := issue(unknownCritTmpl)
	deltaCRL, _, err := p.inter.CRL(ctx, CRLTemplate{Number: big.NewInt(8), ThisUpdate: t0.AddDate(0, 0, -1), NextUpdate: t0.AddDate(0, 0, 7),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 7}}}})
	if err != nil {
		t.Fatal(err)
	}
	goodCRL := crlFor(t, p.inter, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 7), revoked.SerialNumber)
	rootCRL := crlFor(t, p.root, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 7))
	staleCRL := crlFor(t, p.inter, t0.AddDate(0, 0, -30), t0.AddDate(0, 0, -23))
	forgedCRL := crlFor(t, other.inter, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 7))
	// Same issuer name and key identifier as the real issuing CA, signed by another key.
	forgedCRL.RawIssuer = p.inter.Certificate.RawSubject
	forgedCRL.AuthorityKeyId = nil

	sigMode := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	cfg := VerifierConfig{Roots: []*x509.Certificate{p.root.Certificate, limited.Certificate}, CRLs: []*x509.RevocationList{goodCRL, rootCRL}}
	inter := []*x509.Certificate{p.inter.Certificate, limitedInter.Certificate}

	for _, tc := range []struct {
		name  string
		cfg   VerifierConfig
		leaf  *x509.Certificate
		inter []*x509.Certificate
		at    time.Time
		ku    x509.KeyUsage
		eku   []asn1.ObjectIdentifier
		want  error
		depth int
	}{
		{name: "valid", cfg: cfg, leaf: p.leaf, inter: inter, at: t0, ku: sigMode, eku: []asn1.ObjectIdentifier{OIDExtKeyUsageEmailProtection}},
		{name: "root itself", cfg: cfg, leaf: p.root.Certificate, at: t0},
		{name: "without intermediates", cfg: cfg, leaf: p.leaf, at: t0, want: ErrUnknownIssuer},
		{name: "another CA's certificate", cfg: cfg, leaf: other.leaf, inter: []*x509.Certificate{other.inter.Certificate}, at: t0, want: ErrUnknownIssuer, depth: 1},
		{name: "expired", cfg: cfg, leaf: expired, inter: inter, at: t0, want: ErrExpired},
		{name: "not yet valid", cfg: cfg, leaf: future, inter: inter, at: t0, want: ErrNotYetValid},
		{name: "valid at an earlier time", cfg: cfg, leaf: expired, inter: inter, at: t0.AddDate(-1, -6, 0), want: nil},
		{name: "intermediate expired at that time", cfg: cfg, leaf: p.leaf, inter: inter, at: t0.AddDate(5, 0, 1), want: ErrExpired},
		{name: "tampered signature", cfg: cfg, leaf: tampered(t, p.leaf), inter: inter, at: t0, want: ErrBadSignature},
		{name: "tampered intermediate", cfg: cfg, leaf: p.leaf, inter: []*x509.Certificate{tampered(t, p.inter.Certificate)}, at: t0, want: ErrBadSignature, depth: 1},
		{name: "revoked", cfg: cfg, leaf: revoked, inter: inter, at: t0, want: ErrRevoked},
		{name: "revoked later than the time", cfg: cfg, leaf: revoked, inter: inter, at: t0.AddDate(0, 0, -2), want: nil},
		{name: "issuer is not a CA", cfg: cfg, leaf: underLeaf, inter: append([]*x509.Certificate{p.leaf}, inter...), at: t0, want: ErrNotCA, depth: 1},
		{name: "path length", cfg: cfg, leaf: underLimited, inter: inter, at: t0, want: ErrPathLength, depth: 2},
		{name: "key usage", cfg: cfg, leaf: encipherment, inter: inter, at: t0, ku: sigMode, want: ErrKeyUsage},
		{name: "extended key usage", cfg: cfg, leaf: clientOnly, inter: inter, at: t0, eku: []asn1.ObjectIdentifier{OIDExtKeyUsageEmailProtection}, want: ErrKeyUsage},
		{name: "no CRL required", cfg: VerifierConfig{Roots: cfg.Roots, RequireCRL: true, CRLs: []*x509.RevocationList{rootCRL}}, leaf: p.leaf, inter: inter, at: t0, want: ErrNoCRL},
		{name: "no CRL, not required", cfg: VerifierConfig{Roots: cfg.Roots}, leaf: revoked, inter: inter, at: t0},
		{name: "stale CRL", cfg: VerifierConfig{Roots: cfg.Roots, CRLs: []*x509.RevocationList{staleCRL}}, leaf: p.leaf, inter: inter, at: t0, want: ErrCRLNotCurrent},
		{name: "stale and current CRL", cfg: VerifierConfig{Roots: cfg.Roots, CRLs: []*x509.RevocationList{staleCRL, goodCRL}}, leaf: revoked, inter: inter, at: t0, want: ErrRevoked},
		{name: "unknown critical extension", cfg: cfg, leaf: unknownCritical, inter: inter, at: t0, want: ErrUnhandledCriticalExtension},
		{name: "delta CRL only", cfg: VerifierConfig{Roots: cfg.Roots, CRLs: []*x509.RevocationList{deltaCRL}}, leaf: p.leaf, inter: inter, at: t0, want: ErrUnhandledCriticalExtension},
		{name: "delta CRL beside a full one", cfg: VerifierConfig{Roots: cfg.Roots, CRLs: []*x509.RevocationList{deltaCRL, goodCRL}}, leaf: revoked, inter: inter, at: t0, want: ErrRevoked},
		{name: "forged CRL", cfg: VerifierConfig{Roots: cfg.Roots, CRLs: []*x509.RevocationList{forgedCRL}}, leaf: p.leaf, inter: inter, at: t0, want: ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			chain, err := v.Verify(tc.leaf, VerifyOptions{Intermediates: tc.inter, At: tc.at, Now: t0, KeyUsage: tc.ku, ExtKeyUsage: tc.eku})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if chain[0] != tc.leaf || !chain[len(chain)-1].Equal(p.root.Certificate) && !chain[len(chain)-1].Equal(limited.Certificate) {
					t.Errorf("chain does not run from the leaf to a root")
				}
				return
			}
			var ce *CertError
			if !errors.As(err, &ce) {
				t.Fatalf("%v is not a *CertError", err)
			}
			if ce.Depth != tc.depth {
				t.Errorf("failure at depth %d, want %d (%v)", ce.Depth, tc.depth, err)
			}
			for _, s := range []string{doctor.SNILS, doctor.Surname} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q names the holder", err)
				}
			}
		})
	}
}

// TestLoadVerifier loads roots from a PEM bundle and CRLs from DER and PEM files.
func TestLoadVerifier(t *testing.T) {
	p := newPKI(t, signer.GOST2012_256)
	revoked, err := p.inter.Issue(t.Context(), SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)), p.leaf.PublicKey)
	if err == nil {
		t.Fatal("issued a certificate for a nil public key")
	}
	_, revoked, err = p.inter.IssueKey(t.Context(), signer.GOST2012_256, SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	other := newPKI(t, signer.GOST2012_256)
	bundle := writeFile(t, dir, "roots.pem", append(pemCert(other.root.Certificate), pemCert(p.root.Certificate)...))
	_, interDER, err := p.inter.CRL(t.Context(), CRLTemplate{Number: big.NewInt(1), ThisUpdate: t0.AddDate(0, 0, -1), NextUpdate: t0.AddDate(0, 0, 1),
		Revoked: []Revocation{{SerialNumber: revoked.SerialNumber, RevokedAt: t0.AddDate(0, 0, -1)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, rootDER, err := p.root.CRL(t.Context(), CRLTemplate{Number: big.NewInt(1), ThisUpdate: t0.AddDate(0, 0, -1), NextUpdate: t0.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	crls := []string{writeFile(t, dir, "inter.crl", interDER), writeFile(t, dir, "root.crl", pemEncode("X509 CRL", rootDER))}
	v, err := LoadVerifier(bundle, crls, true)
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Intermediates: []*x509.Certificate{p.inter.Certificate}, At: t0, Now: t0}
	if _, err := v.Verify(p.leaf, opts); err != nil {
		t.Errorf("leaf: %v", err)
	}
	if _, err := v.Verify(revoked, opts); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
	for _, tc := range []struct {
		name  string
		roots string
		crls  []string
		want  error
	}{
		{"missing roots file", filepath.Join(dir, "nope.pem"), nil, os.ErrNotExist},
		{"roots file without certificates", writeFile(t, dir, "empty.pem", []byte("nothing here")), nil, ErrMalformed},
		{"missing CRL", bundle, []string{filepath.Join(dir, "nope.crl")}, os.ErrNotExist},
		{"garbage CRL", bundle, []string{writeFile(t, dir, "bad.crl", []byte{0x30, 0x03, 1, 2, 3})}, ErrMalformed},
		{"certificate as CRL", bundle, []string{bundle}, ErrMalformed},
	} {
		if _, err := LoadVerifier(tc.roots, tc.crls, false); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestChainBuildingIsBounded: intermediates that share one name and sign
// one another (what an attacker can put in a container) do not make chain
// building run away: it gives up with ErrUnknownIssuer.
func TestChainBuildingIsBounded(t *testing.T) {
	ctx := t.Context()
	alg := signer.ECDSAP256SHA256 // the shape matters, not the algorithm; ECDSA keeps it quick
	p := newPKI(t, alg)
	const n = 5
	type party struct {
		key  DigestSigner
		pub  any
		cert *x509.Certificate // self-signed, its name and key for issuing
	}
	evil := Subject{CommonName: "Evil CA"}
	var parties []party
	for i := 0; i < n; i++ {
		key, pub, err := GenerateKey(alg, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ds, _ := NewDigestSigner(key, rand.Reader)
		der, err := CreateCertificate(ctx, &Template{SerialNumber: big.NewInt(int64(i + 1)), Subject: evil, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(1, 0, 0), IsCA: true, MaxPathLen: -1}, pub, nil, ds)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		c.SubjectKeyId = nil // issue without authority key identifiers
		parties = append(parties, party{ds, pub, c})
	}
	var inter []*x509.Certificate
	serial := int64(100)
	for _, subject := range parties {
		for _, issuer := range parties {
			serial++
			der, err := CreateCertificate(ctx, &Template{SerialNumber: big.NewInt(serial), Subject: evil, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(1, 0, 0), IsCA: true, MaxPathLen: -1}, subject.pub, issuer.cert, issuer.key)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := x509.ParseCertificate(der)
			inter = append(inter, c)
		}
	}
	tmpl := SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
	tmpl.SerialNumber = big.NewInt(1)
	_, leafPub, _ := GenerateKey(alg, rand.Reader)
	der, err := CreateCertificate(ctx, &tmpl, leafPub, parties[0].cert, parties[0].key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	v, err := NewVerifier(VerifierConfig{Roots: []*x509.Certificate{p.root.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = v.Verify(leaf, VerifyOptions{Intermediates: inter, At: t0, Now: t0})
	if !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("Verify: %v, want ErrUnknownIssuer", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("chain building took %v", d)
	}
}
