package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCryptoSectionGivesEachOperationBesideItsCounterpart(t *testing.T) {
	got := cryptoSection([]cryptoRow{
		{Name: "verify 256", PerOp: 300 * time.Microsecond, Base: 100 * time.Microsecond, What: "ECDSA P-256 verify"},
		{Name: "CMS verify", PerOp: 500 * time.Microsecond},
	})
	for _, want := range []string{
		"| verify 256 | 300 µs | 3333 | ECDSA P-256 verify | 100 µs | ×3.00 |",
		"| CMS verify | 500 µs | 2000 | – | – | – |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
}

func TestRunCryptoStopsAtAFailingOperation(t *testing.T) {
	calls := 0
	rows, err := runCrypto([]benchCase{
		{name: "fine", op: func() error { calls++; return nil }},
		{name: "broken", op: func() error { return errors.New("bad signature") }},
	})
	if err == nil || !strings.Contains(err.Error(), "broken: bad signature") {
		t.Fatalf("err = %v, want the failing case named", err)
	}
	if len(rows) != 1 || rows[0].Name != "fine" || rows[0].PerOp <= 0 || calls == 0 {
		t.Fatalf("rows = %+v after %d calls, want the one that ran", rows, calls)
	}
}

// TestDocumentCasesRunOnce: every document case runs and succeeds once,
// ГОСТ and its ECDSA counterpart both (a case that fails would stop the
// bench's signature section).
func TestDocumentCasesRunOnce(t *testing.T) {
	cases, err := documentCases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 3 {
		t.Fatalf("%d cases, want CMS verify, envelope sign and envelope verify", len(cases))
	}
	for _, c := range cases {
		if err := c.op(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if err := c.base(); err != nil {
			t.Errorf("%s, %s: %v", c.name, c.what, err)
		}
	}
}
