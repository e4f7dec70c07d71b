package cda_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// wantedCode finds the codes the cases expect, written "CODE@field".
var wantedCode = regexp.MustCompile(`"([A-Z0-9_]+)@`)

// TestEveryCodeCheckCanEmitHasACase: every reason code the package's code
// names is in the catalog and expected by a case of TestCheck or the
// openssl tests.
func TestEveryCodeCheckCanEmitHasACase(t *testing.T) {
	used := testtool.ReasonCodesUsed(t, filepath.Join("..", "reasons", "reasons.go"), ".")
	if len(used) < 20 {
		t.Fatalf("found only %d codes in the package; the scan is broken", len(used))
	}
	covered := map[string]bool{}
	for _, f := range []string{"check_test.go", "openssl_test.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range wantedCode.FindAllSubmatch(src, -1) {
			covered[string(m[1])] = true
		}
	}
	testtool.RequireCodesCovered(t, used, func(code string) bool {
		_, ok := reasons.Default().Lookup(code)
		return ok
	}, func(code string) bool { return covered[code] }, "TestCheck or TestCheckOpenSSLSignedDocument")
}
