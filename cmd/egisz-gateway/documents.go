package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	adnormalize "github.com/egisz-gateway/egisz-gateway/adapters/normalize"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/docfetch"
)

// documentChecks are the checks of documents' files and signatures the
// configuration asks for: the CDA and КЭП checks under the configured
// trust roots, with files given by reference fetched over https. Without
// trust roots the documents are not checked, only their events, and the
// log says so at start.
func documentChecks(cfg config.Documents, log *slog.Logger) (adnormalize.Documents, error) {
	if len(cfg.TrustRoots) == 0 {
		log.Warn("documents' CDA files and signatures are NOT checked: set normalize.documents.trust_roots (EGISZ_NORMALIZE_DOCUMENTS_TRUST_ROOTS) to the accredited CAs")
		return adnormalize.Documents{}, nil
	}
	roots, err := loadTrustRoots(cfg.TrustRoots)
	if err != nil {
		return adnormalize.Documents{}, fmt.Errorf("normalize.documents.trust_roots: %w", err)
	}
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: roots, SignatureCacheSize: cda.SignatureCacheSize})
	if err != nil {
		return adnormalize.Documents{}, fmt.Errorf("normalize.documents.trust_roots: %w", err)
	}
	checker, err := cda.NewChecker(cda.Config{Verifier: v})
	if err != nil {
		return adnormalize.Documents{}, err
	}
	log.Info("documents' CDA files and signatures are checked", "trust_roots", len(roots))
	return adnormalize.Documents{
		Checker: checker,
		Fetcher: docfetch.New(docfetch.Config{Timeout: cfg.FetchTimeout.D()}),
		// Each accepted document goes to the document store, for РЭМД's
		// getDocumentFile.
		Store: documentStore{},
		// Fetching and checking share one bound: the fetch's own, and
		// time enough to verify a few signatures after it.
		Timeout: cfg.FetchTimeout.D() + documentCheckTime,
	}, nil
}

// documentCheckTime is what checking a fetched document may take beyond
// the fetch: parsing it and verifying its signatures and chains, a few
// milliseconds each on a busy machine.
const documentCheckTime = 5 * time.Second

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
