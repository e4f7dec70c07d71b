package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
)

// errNoTrustRoots is a trust-roots setting that names no certificate: a
// gateway trusting nothing would refuse every document.
var errNoTrustRoots = errors.New("no certificates in the configured trust roots")

// loadTrustRoots reads the accredited CAs of normalize.documents.trust_roots:
// each path a PEM file, or a directory whose *.pem files are read (in name
// order, not recursively).
func loadTrustRoots(paths []string) ([]*x509.Certificate, error) {
	var roots []*x509.Certificate
	for _, p := range paths {
		files := []string{p}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("trust roots: %w", err)
		}
		if st.IsDir() {
			if files, err = filepath.Glob(filepath.Join(p, "*.pem")); err != nil {
				return nil, fmt.Errorf("trust roots %s: %w", p, err)
			}
			sort.Strings(files)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("trust roots: %w", err)
			}
			certs, err := gostx509.ParseCertificatesPEM(data)
			if err != nil {
				return nil, fmt.Errorf("trust roots %s: %w", f, err)
			}
			roots = append(roots, certs...)
		}
	}
	if len(roots) == 0 {
		return nil, errNoTrustRoots
	}
	return roots, nil
}
