package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/docstore"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The registries' adapters are what the forward stage calls.
var (
	_ forward.Destination = destination.Adapter{}
	_ forward.Destination = (*remd.Adapter)(nil)
)

// registryAdapter is the adapter of registry r: РЭМД speaks signed SOAP
// through ИПС (adapters/remd), the others the REST shapes of
// adapters/destination until they move to ИПС too.
func registryAdapter(ctx context.Context, r config.RegistryDestination) (forward.Destination, error) {
	if r.Name != topics.RegistryREMD {
		return destination.NewAdapter(r.Name), nil
	}
	ips := r.Dest.IPS
	key := r.Key + ".ips"
	s, err := signerconfig.New(ctx, ips.Signer)
	if err != nil {
		return nil, fmt.Errorf("%s.signer: %w", key, err)
	}
	trust, err := inboundTrust(ips.InboundTrust, time.Now)
	if err != nil {
		return nil, fmt.Errorf("%s.inbound_trust: %w", key, err)
	}
	inbox, err := remd.NewInbox(remd.InboxConfig{Trust: trust, Signer: s})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	a, err := remd.New(remd.Config{ClientEntityID: ips.ClientEntityID, To: ips.WSATo(r.Dest.URL), Signer: s, Inbox: inbox})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return a, nil
}

// errNotTrusted: a certificate that signs an inbound message is neither
// one of the configured certificates nor issued under them.
var errNotTrusted = errors.New("the signing certificate is not one the configuration trusts for РЭМД")

// inboundTrust is the check of the certificates that sign РЭМД's
// messages to the callback listener, from forward.remd.ips.inbound_trust:
// PEM files or directories of them, holding the CA that issues them or
// the certificates themselves (which one ИПС and РЭМД sign with is not
// public). A configured certificate is trusted as it is, within its
// validity; any other must chain to one of them and allow digital
// signatures (gostx509: ГОСТ and the others). The error names no subject:
// it may be a person's name.
func inboundTrust(paths []string, now func() time.Time) (func(*x509.Certificate) error, error) {
	certs, err := loadTrustRoots(paths)
	if err != nil {
		return nil, err
	}
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: certs, SignatureCacheSize: 64})
	if err != nil {
		return nil, err
	}
	return func(c *x509.Certificate) error {
		if c == nil {
			return errNotTrusted
		}
		t := now()
		for _, pinned := range certs {
			if bytes.Equal(pinned.Raw, c.Raw) {
				if t.Before(c.NotBefore) || t.After(c.NotAfter) {
					return fmt.Errorf("%w: outside its validity", errNotTrusted)
				}
				return nil
			}
		}
		if _, err := v.Verify(c, gostx509.VerifyOptions{Now: t, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}); err != nil {
			return fmt.Errorf("%w: %w", errNotTrusted, err)
		}
		return nil
	}, nil
}

// documentStoreWorker runs the document store's index in the forward
// process, where РЭМД's file requests are answered from it (read only:
// the normalize stage writes it). It is ready at once: a request for a
// document not indexed yet waits for the index itself (Store.Get), and
// forwarding must not wait for weeks of documents to be indexed.
type documentStoreWorker struct{ *docstore.Store }

// newDocumentStore is the document store of the deployment's topic.
func newDocumentStore(prefix string, opts []kgo.Opt, log *slog.Logger) (*documentStoreWorker, error) {
	s, err := docstore.New(prefix+topics.DocumentFileTopic, opts, log)
	if err != nil {
		return nil, err
	}
	return &documentStoreWorker{s}, nil
}

func (documentStoreWorker) Name() string { return "docstore" }
func (documentStoreWorker) Ready() error { return nil }

// Run indexes the store until ctx ends, then closes its client.
func (w documentStoreWorker) Run(ctx context.Context) error {
	defer w.Close()
	return w.Store.Run(ctx)
}
