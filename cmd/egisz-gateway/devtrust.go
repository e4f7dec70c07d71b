package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
)

// devTrustTestCA makes dev trust the committed test CA (internal/testpki,
// docs/examples/testpki) when the configuration names no trust roots: the
// example document and the demo's documents are signed under it, so they
// are checked as real ones are and accepted. The CA's certificate is
// written into dir. Only dev does this; `run` trusts only what it is told.
func devTrustTestCA(docs *config.Documents, dir string, log *slog.Logger) error {
	if len(docs.TrustRoots) > 0 {
		return nil
	}
	pem, err := testpki.CAPEM()
	if err != nil {
		return err
	}
	f := filepath.Join(dir, "test-ca.pem")
	if err := os.WriteFile(f, pem, 0o644); err != nil {
		return fmt.Errorf("dev: write the test CA: %w", err)
	}
	docs.TrustRoots = []string{f}
	log.Info("dev: documents' signatures are checked against the committed TEST CA (docs/examples/testpki), which signs the examples and the demo; set normalize.documents.trust_roots to check against others", "file", f)
	return nil
}
