package main

import (
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
