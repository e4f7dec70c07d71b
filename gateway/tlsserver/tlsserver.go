// Package tlsserver serves one HTTP handler on a listener of its own, over
// TLS, with the callers' client certificates checked against a configured
// CA: the shape of every endpoint of the gateway that a party other than
// Prometheus calls (РЭМД's callback; the admin API is to move here, which
// is why TLS and the client CA are each optional: plain HTTP on loopback,
// and TLS with bearer tokens, are its other modes; MutualTLS tells them
// apart for a caller that needs mTLS).
//
// The TLS handshake only requests a client certificate; the certificate is
// verified per connection by Authenticate, in the handler. A caller
// without a certificate, or with one of another CA, thereby reaches HTTP
// and can be answered 401 or 403, counted and logged, rather than
// vanishing in a failed handshake that nothing records.
package tlsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/tlsfiles"
)

// Options say where a server listens and with which certificates.
type Options struct {
	Listen       string // host:port; port 0 picks a free one
	CertFile     string // the server's certificate (PEM); plain HTTP when empty (the caller decides where that is acceptable)
	KeyFile      string // its key (PEM)
	ClientCAFile string // the CAs client certificates must chain to (PEM); no client certificates are asked for when empty
	// ClientNames, when set, are the only subjects a client certificate
	// may name, as its common name or one of its DNS names: a CA that
	// issues certificates to others than the caller then is not enough.
	ClientNames []string
}

// Errors of Authenticate: why a request was refused.
var (
	// ErrNoCertificate: the caller sent no client certificate (or came
	// without TLS).
	ErrNoCertificate = errors.New("no client certificate")
	// ErrUntrusted: the certificate does not chain to the client CA, has
	// expired, or is not for client authentication.
	ErrUntrusted = errors.New("client certificate not trusted")
	// ErrNotAllowed: the certificate is trusted but names none of the
	// allowed clients.
	ErrNotAllowed = errors.New("client certificate names no allowed client")
)

// Server is a bound listener and the means to check its callers.
type Server struct {
	ln    net.Listener
	tls   bool
	roots *x509.CertPool // nil: client certificates are not asked for
	names []string
}

// Listen loads the certificates and binds the address. The caller either
// Serves or Closes the server.
func Listen(o Options) (*Server, error) {
	cfg, roots, err := load(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	s := &Server{ln: ln, roots: roots, names: o.ClientNames}
	if cfg != nil {
		s.ln, s.tls = tls.NewListener(ln, cfg), true
	}
	return s, nil
}

// MutualTLS reports whether the server speaks TLS and asks its callers
// for client certificates of a CA, which Authenticate checks.
func (s *Server) MutualTLS() bool { return s.tls && s.roots != nil }

// load reads the files into a server TLS configuration (nil for plain
// HTTP) and the client CA pool (nil without one).
func load(o Options) (*tls.Config, *x509.CertPool, error) {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, nil, errors.New("a server certificate and its key go together")
	}
	if o.CertFile == "" {
		if o.ClientCAFile != "" {
			return nil, nil, errors.New("client certificates need TLS: a server certificate and its key")
		}
		return nil, nil, nil
	}
	cfg, err := tlsfiles.Server(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	if o.ClientCAFile == "" {
		return cfg, nil, nil
	}
	roots, err := tlsfiles.Pool(o.ClientCAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read client CA: %w", err)
	}
	// RequestClientCert, not RequireAndVerifyClientCert: see the package doc.
	cfg.ClientAuth = tls.RequestClientCert
	return cfg, roots, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close releases the listener of a server that is not served.
func (s *Server) Close() error { return s.ln.Close() }

// Timeouts of every connection: a caller cannot hold one open by sending
// slowly, before or after it authenticates. The handshake is bounded by
// the shortest of them (net/http).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// connKey keys a connection's authentication in its requests' contexts.
type connKey struct{}

// connAuth is a connection's authentication, done once: the certificate
// is the same for every request on the connection.
type connAuth struct {
	once sync.Once
	id   string
	err  error
}

// Serve serves h until ctx ends, then shuts down, letting requests in
// flight finish for up to five seconds.
func (s *Server) Serve(ctx context.Context, h http.Handler) error {
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connAuth{})
		},
		// A failed handshake (a caller that speaks no TLS) is not logged
		// per connection: a scan would fill the log.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve %s: %w", s.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// Authenticate verifies the request's client certificate and returns
// the name it is known by (its common name). It reads no body.
func (s *Server) Authenticate(r *http.Request) (string, error) {
	ca, _ := r.Context().Value(connKey{}).(*connAuth)
	if ca == nil { // not served by Serve: verify every time
		return s.verify(r.TLS)
	}
	ca.once.Do(func() { ca.id, ca.err = s.verify(r.TLS) })
	return ca.id, ca.err
}

func (s *Server) verify(st *tls.ConnectionState) (string, error) {
	if s.roots == nil || st == nil || len(st.PeerCertificates) == 0 {
		return "", ErrNoCertificate
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if len(s.names) > 0 && !slices.Contains(s.names, leaf.Subject.CommonName) && !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return slices.Contains(s.names, n) }) {
		return "", ErrNotAllowed
	}
	return leaf.Subject.CommonName, nil
}

// Source is the address a request came from, without its port: a caller
// gets a new port with each connection.
func Source(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
