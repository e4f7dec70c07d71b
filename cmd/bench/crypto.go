package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
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
	rows, err := runCrypto(cases)
	if err != nil {
		return nil, fmt.Errorf("timing signatures: %w", err)
	}
	return rows, nil
}
