package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

// cryptoRow is one signature operation, timed beside its counterpart on
// crypto/ecdsa P-256 (or SHA-256 for a digest) in the same run: the machine
// is shared, so the ratio is what counts.
type cryptoRow struct {
	Name  string
	PerOp time.Duration // the ГОСТ operation
	Base  time.Duration // its counterpart, 0 when it has none
	What  string        // what the counterpart is
}

// cryptoBenchSize is the document the digest and CMS rows work on: a
// typical СЭМД.
const cryptoBenchSize = 50 << 10

// benchCase is one ГОСТ operation and the operation it is compared with.
type benchCase struct {
	name, what string
	op, base   func() error
}

// perOp times f with the testing package's own loop, so that each figure
// comes from enough iterations to be steady.
func perOp(f func() error) (time.Duration, error) {
	var err error
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if e := f(); e != nil {
				err = e
				b.SkipNow()
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if r.N == 0 {
		return 0, fmt.Errorf("no iteration ran")
	}
	return time.Duration(r.NsPerOp()), nil
}

// runCrypto measures every case in turn.
func runCrypto(cases []benchCase) ([]cryptoRow, error) {
	var rows []cryptoRow
	for _, c := range cases {
		op, err := perOp(c.op)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", c.name, err)
		}
		row := cryptoRow{Name: c.name, PerOp: op, What: c.what}
		if c.base != nil {
			if row.Base, err = perOp(c.base); err != nil {
				return rows, fmt.Errorf("%s, %s: %w", c.name, c.what, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// primitiveCases are the digests and raw signatures: each parameter set's
// class (256-bit tc26 and CryptoPro, 512-bit tc26) beside P-256.
func primitiveCases() ([]benchCase, error) {
	doc := make([]byte, cryptoBenchSize)
	if _, err := rand.Read(doc); err != nil {
		return nil, err
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making a P-256 key: %w", err)
	}
	hash := sha256.Sum256(doc)
	p256Sig, err := ecdsa.SignASN1(rand.Reader, p256, hash[:])
	if err != nil {
		return nil, fmt.Errorf("signing with P-256: %w", err)
	}
	p256Verify := func() error {
		if !ecdsa.VerifyASN1(&p256.PublicKey, hash[:], p256Sig) {
			return fmt.Errorf("P-256 signature did not verify")
		}
		return nil
	}
	p256Sign := func() error { _, err := ecdsa.SignASN1(rand.Reader, p256, hash[:]); return err }

	cases := []benchCase{
		{name: "Streebog-256 of 50 KiB", what: "SHA-256", op: func() error { streebog.Sum256(doc); return nil }, base: func() error { sha256.Sum256(doc); return nil }},
		{name: "Streebog-512 of 50 KiB", what: "SHA-256", op: func() error { streebog.Sum512(doc); return nil }, base: func() error { sha256.Sum256(doc); return nil }},
	}
	for _, set := range []struct {
		name string
		oid  asn1.ObjectIdentifier
	}{
		{"tc26 256 A", asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 1, 1}},
		{"CryptoPro A", asn1.ObjectIdentifier{1, 2, 643, 2, 2, 35, 1}},
		{"tc26 512 A", asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 1}},
	} {
		curve, err := gost3410.CurveByOID(set.oid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", set.name, err)
		}
		key, err := gost3410.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("making a %s key: %w", set.name, err)
		}
		digest := streebog.Sum256(doc)
		d := digest[:]
		if curve.Size() == 64 {
			d512 := streebog.Sum512(doc)
			d = d512[:]
		}
		sig, err := key.SignDigest(rand.Reader, d)
		if err != nil {
			return nil, fmt.Errorf("signing with %s: %w", set.name, err)
		}
		cases = append(cases,
			benchCase{name: "ГОСТ Р 34.10-2012 verify, " + set.name, what: "ECDSA P-256 verify", op: func() error { return gost3410.VerifyDigest(&key.PublicKey, d, sig) }, base: p256Verify},
			benchCase{name: "ГОСТ Р 34.10-2012 sign, " + set.name, what: "ECDSA P-256 sign", op: func() error { _, err := key.SignDigest(rand.Reader, d); return err }, base: p256Sign},
		)
	}
	return cases, nil
}

// keyed is one algorithm's signing key with its certificate from a test CA
// of the same algorithm, and the verifier that trusts that CA.
type keyed struct {
	signer.Signer
	chain *gostx509.Verifier
}

// certSigner is a signer.Signer over a key and its certificate.
type certSigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s certSigner) Certificate() *x509.Certificate { return s.cert }

// newKeyed makes a test CA of alg and a signing key and certificate it issued.
func newKeyed(ctx context.Context, alg signer.Algorithm) (keyed, error) {
	now := time.Now()
	ca, err := gostx509.NewTestCA(ctx, alg, gostx509.Subject{CommonName: "bench CA"}, now.Add(-time.Hour), now.Add(24*time.Hour), rand.Reader)
	if err != nil {
		return keyed{}, fmt.Errorf("test CA: %w", err)
	}
	key, cert, err := ca.IssueKey(ctx, alg, gostx509.SigningTemplate(gostx509.Subject{CommonName: "bench MIS"}, now.Add(-time.Hour), now.Add(24*time.Hour)))
	if err != nil {
		return keyed{}, fmt.Errorf("signing key: %w", err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		return keyed{}, err
	}
	chain, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}})
	if err != nil {
		return keyed{}, err
	}
	return keyed{Signer: certSigner{ds, cert}, chain: chain}, nil
}

// documentCases are the work a registration's signatures cost: a detached
// CMS over a 50 KiB СЭМД verified with its chain, and a SOAP envelope
// with a 4 KiB body signed and verified as ИПС expects (WS-Security, six
// exc-c14n references), each with ГОСТ 2012-256 beside the same code run
// with ECDSA P-256.
func documentCases(ctx context.Context) ([]benchCase, error) {
	doc := make([]byte, cryptoBenchSize)
	if _, err := rand.Read(doc); err != nil {
		return nil, err
	}
	body := []byte(`<m:registerDocument xmlns:m="http://egisz.rosminzdrav.ru/iehr/emdr/service/"><m:data>` +
		strings.Repeat("x", 4<<10) + `</m:data></m:registerDocument>`)
	env := wssec.Envelope{Version: wssec.SOAP12, Body: body, Addressing: wssec.Addressing{
		Action: "registerDocument", MessageID: "urn:uuid:6b29fc40-ca47-1067-b31d-00dd010662da",
		To: "https://ips.rosminzdrav.ru/57ad868a70467", ReplyTo: "https://gateway.example/emdr/callback",
	}}
	type prepared struct {
		sig, msg []byte
		k        keyed
	}
	prep := map[signer.Algorithm]prepared{}
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.ECDSAP256SHA256} {
		k, err := newKeyed(ctx, alg)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", alg, err)
		}
		sig, err := cms.Sign(ctx, k, bytes.NewReader(doc), cms.SignOptions{})
		if err != nil {
			return nil, fmt.Errorf("%v: CMS: %w", alg, err)
		}
		msg, err := wssec.Sign(ctx, k, env, wssec.SignOptions{})
		if err != nil {
			return nil, fmt.Errorf("%v: envelope: %w", alg, err)
		}
		prep[alg] = prepared{sig, msg, k}
	}
	cmsVerify := func(alg signer.Algorithm) func() error {
		p := prep[alg]
		return func() error {
			_, err := cms.Verify(p.sig, bytes.NewReader(doc), cms.Options{Verifier: p.k.chain})
			return err
		}
	}
	envSign := func(alg signer.Algorithm) func() error {
		return func() error { _, err := wssec.Sign(ctx, prep[alg].k, env, wssec.SignOptions{}); return err }
	}
	envVerify := func(alg signer.Algorithm) func() error {
		p := prep[alg]
		trust := func(c *x509.Certificate) error {
			_, err := p.k.chain.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
			return err
		}
		return func() error {
			_, err := wssec.Verify(p.msg, wssec.VerifyOptions{TrustCertificate: trust})
			return err
		}
	}
	const g, e = signer.GOST2012_256, signer.ECDSAP256SHA256
	return []benchCase{
		{name: "CMS verify of 50 KiB with its chain, ГОСТ 2012-256", what: "the same, ECDSA P-256", op: cmsVerify(g), base: cmsVerify(e)},
		{name: "SOAP envelope (4 KiB body) signed, WS-Security ГОСТ 2012-256", what: "the same, ECDSA P-256", op: envSign(g), base: envSign(e)},
		{name: "SOAP envelope (4 KiB body) verified with its chain, ГОСТ 2012-256", what: "the same, ECDSA P-256", op: envVerify(g), base: envVerify(e)},
	}, nil
}

// cryptoSection is the report's section on signatures, in Markdown.
func cryptoSection(rows []cryptoRow) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Signatures\n\n")
	p("ГОСТ digests and signatures (`crypto/`), each timed in the bench process with the `testing` package's loop,\n")
	p("beside the same work on the standard library in the same run (`crypto/ecdsa` P-256, `crypto/sha256`).\n")
	p("Issue 29's target: a 256-bit verification at most 4× P-256's.\n\n")
	p("| operation | time per op | per second | beside | its time per op | ratio |\n")
	p("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		base, ratio := "–", "–"
		if r.Base > 0 {
			base, ratio = us(r.Base), fmt.Sprintf("×%.2f", float64(r.PerOp)/float64(r.Base))
		}
		p("| %s | %s | %.0f | %s | %s | %s |\n", r.Name, us(r.PerOp), float64(time.Second)/float64(r.PerOp), orDash(r.What), base, ratio)
	}
	p("\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// measureCrypto times every signature case.
func measureCrypto() ([]cryptoRow, error) {
	cases, err := primitiveCases()
	if err != nil {
		return nil, fmt.Errorf("preparing the signature benchmarks: %w", err)
	}
	docs, err := documentCases(context.Background())
	if err != nil {
		return nil, fmt.Errorf("preparing the document signature benchmarks: %w", err)
	}
	cases = append(cases, docs...)
	rows, err := runCrypto(cases)
	if err != nil {
		return nil, fmt.Errorf("timing signatures: %w", err)
	}
	return rows, nil
}
