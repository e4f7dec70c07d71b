package adapters_test

import (
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestEveryCodeAnAdapterCanEmit parses the source adapters' code: every
// reason code they name must be in the catalog and be produced by a case
// of TestEveryRejectionReason. (The normalize decider, the prescription state, the destination
// adapters, the СЭМД checks of adapters/cda and РЭМД's adapters/remd have their own.)
func TestEveryCodeAnAdapterCanEmit(t *testing.T) {
	used := testtool.ReasonCodesUsed(t, filepath.Join("reasons", "reasons.go"), ".", "reasons", "normalize", "destination", "prescription", "cda", "remd")
	if len(used) < 20 {
		t.Fatalf("found only %d codes in the adapters' sources; the scan is broken", len(used))
	}
	covered := map[string]bool{}
	for _, r := range rejections() {
		covered[r.code] = true
	}
	testtool.RequireCodesCovered(t, used, inCatalog, func(c string) bool { return covered[c] }, "TestEveryRejectionReason")
}

func inCatalog(code string) bool {
	_, ok := reasons.Default().Lookup(code)
	return ok
}

func TestEveryCatalogConstantResolves(t *testing.T) {
	consts := testtool.ReasonConstants(t, filepath.Join("reasons", "reasons.go"))
	if len(consts) < 40 {
		t.Fatalf("found only %d constants; the scan is broken", len(consts))
	}
	for _, code := range consts {
		if !inCatalog(code) {
			t.Errorf("%s is not in the catalog", code)
		}
	}
}
