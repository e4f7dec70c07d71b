package pending

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/gateway/tlsserver"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// callbackCaller is who calls the callback endpoint in a test.
type callbackCaller int

const (
	callerRegistry callbackCaller = iota // a client certificate of the configured CA
	callerNoCert                         // TLS, no client certificate
	callerOtherCA                        // a client certificate of another CA
)

// serveCallback serves p's callback on 127.0.0.1 over mTLS until the test
// ends, and returns its URL and a client for each kind of caller.
func serveCallback(t *testing.T, p *Pending) (url string, client func(callbackCaller) *http.Client) {
	t.Helper()
	return serveAuditedCallback(t, p, nil)
}

// serveAuditedCallback is serveCallback with audit writing the refusals.
func serveAuditedCallback(t *testing.T, p *Pending, audit RefusalAuditor) (url string, client func(callbackCaller) *http.Client) {
	t.Helper()
	pki, other := testtool.NewPKI(t), testtool.NewPKI(t)
	srv, err := tlsserver.Listen(tlsserver.Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewCallbackServer(srv, p)
	if err != nil {
		t.Fatal(err)
	}
	if audit != nil {
		cs.AuditRefusals(audit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cs.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	certOf := func(certFile, keyFile string) []tls.Certificate {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	certs := map[callbackCaller][]tls.Certificate{
		callerRegistry: certOf(pki.CertFile, pki.KeyFile),
		callerOtherCA:  certOf(other.CertFile, other.KeyFile),
	}
	return "https://" + cs.Addr() + CallbackPath, func(c callbackCaller) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs[c], MinVersion: tls.VersionTLS12}}}
	}
}

// The callback is never served without mTLS, whatever the configuration
// let through: whoever reaches it settles documents.
func TestCallbackServerNeedsMutualTLS(t *testing.T) {
	pki := testtool.NewPKI(t)
	for name, o := range map[string]tlsserver.Options{
		"plain HTTP":              {Listen: "127.0.0.1:0"},
		"TLS without a client CA": {Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile},
	} {
		srv, err := tlsserver.Listen(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewCallbackServer(srv, &Pending{}); err == nil || !strings.Contains(err.Error(), "mTLS is required") {
			t.Errorf("%s: NewCallbackServer = %v, want mTLS required", name, err)
		}
		srv.Close()
	}
}
