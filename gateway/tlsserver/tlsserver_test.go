package tlsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestAuthenticate serves on 127.0.0.1 and calls with each kind of client
// certificate: only one of the client CA, for client authentication, and
// (when names are configured) naming an allowed client, is let through.
// The handshake succeeds for every caller, so each refusal reaches HTTP.
func TestAuthenticate(t *testing.T) {
	pki, other := testtool.NewPKI(t), testtool.NewPKI(t)
	keyPair := func(cert, key string) []tls.Certificate {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, tc := range []struct {
		name  string
		names []string
		certs []tls.Certificate
		want  error // nil: authenticated as "egisz"
	}{
		{"no certificate", nil, nil, ErrNoCertificate},
		{"a certificate of another CA", nil, keyPair(other.CertFile, other.KeyFile), ErrUntrusted},
		{"a server certificate of the CA", nil, keyPair(pki.ServerCertFile, pki.ServerKeyFile), ErrUntrusted},
		{"a client certificate of the CA", nil, keyPair(pki.CertFile, pki.KeyFile), nil},
		{"an allowed name", []string{"remd", "egisz"}, keyPair(pki.CertFile, pki.KeyFile), nil},
		{"a name not allowed", []string{"remd"}, keyPair(pki.CertFile, pki.KeyFile), ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Listen(Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile, ClientNames: tc.names})
			if err != nil {
				t.Fatal(err)
			}
			var verified atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for range 2 { // a second call on the connection is answered from the first
					id, err := srv.Authenticate(r)
					if !errors.Is(err, tc.want) || (err == nil && id != "egisz") {
						t.Errorf("Authenticate = %q, %v; want %v", id, err, tc.want)
					}
				}
				verified.Add(1)
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, h) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: tc.certs, MinVersion: tls.VersionTLS12}}}
			defer cl.CloseIdleConnections()
			for range 2 { // two requests, one connection
				resp, err := cl.Get("https://" + srv.Addr() + "/")
				if err != nil {
					t.Fatalf("the handshake failed: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if verified.Load() != 2 {
				t.Errorf("the handler ran %d times, want 2", verified.Load())
			}
		})
	}
}

func TestListenChecksItsFiles(t *testing.T) {
	pki := testtool.NewPKI(t)
	notPEM := pki.KeyFile // a key is no CA certificate
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no key", Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, ClientCAFile: pki.CAFile}, "go together"},
		{"a client CA without TLS", Options{Listen: "127.0.0.1:0", ClientCAFile: pki.CAFile}, "need TLS"},
		{"a key that is no key", Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.CAFile}, "load server certificate"},
		{"a CA file without certificates", Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: notPEM}, "no PEM certificates"},
		{"a missing CA file", Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile + ".missing"}, "read client CA"},
		{"a bad address", Options{Listen: "127.0.0.1", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile}, "listen 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Listen(tc.o)
			if err == nil {
				srv.Close()
				t.Fatal("listened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q in it", err, tc.want)
			}
		})
	}
}

// TestRefusalsReportOncePerSourceAMinute: the first refusal of a source
// is reported at once, later ones within the minute are counted and
// reported with the next refusal after it; sources are apart.
func TestRefusalsReportOncePerSourceAMinute(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := NewRefusals(func() time.Time { return now })
	for i, step := range []struct {
		after time.Duration
		src   string
		want  int
	}{
		{0, "10.0.0.1", 1},
		{time.Second, "10.0.0.1", 0},
		{time.Second, "10.0.0.2", 1},
		{30 * time.Second, "10.0.0.1", 0},
		{27 * time.Second, "10.0.0.1", 0}, // 59 s after the report
		{time.Second, "10.0.0.1", 4},      // a minute: these four, this one included
		{time.Second, "10.0.0.1", 0},
		{2 * time.Minute, "10.0.0.2", 1},
	} {
		now = now.Add(step.after)
		if got := g.Refuse(step.src); got != step.want {
			t.Errorf("step %d (%s): report %d, want %d", i, step.src, got, step.want)
		}
	}
}

// TestRefusalsStayBounded: a flood of sources does not grow the count
// past its bound.
func TestRefusalsStayBounded(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := NewRefusals(func() time.Time { return now })
	for i := range 3 * refusalSources {
		now = now.Add(time.Millisecond)
		if got := g.Refuse(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)); got != 1 {
			t.Fatalf("a new source's first refusal reported %d, want 1", got)
		}
	}
	if n := len(g.sources); n > refusalSources {
		t.Errorf("%d sources remembered, bound %d", n, refusalSources)
	}
}

func TestSource(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.3:5555": "10.1.2.3", "[::1]:443": "::1", "odd": "odd"} {
		if got := Source(in); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestModes: without a certificate the server speaks plain HTTP, without a
// client CA TLS only; in neither does it ask for client certificates, so
// Authenticate finds none (even one a client offers) and MutualTLS is
// false, which a caller that needs mTLS checks.
func TestModes(t *testing.T) {
	pki := testtool.NewPKI(t)
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		o      Options
		scheme string
		mutual bool
		want   error
	}{
		{"plain", Options{}, "http", false, ErrNoCertificate},
		{"TLS without a client CA", Options{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile}, "https", false, ErrNoCertificate},
		{"mTLS", Options{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile}, "https", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Listen = "127.0.0.1:0"
			srv, err := Listen(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if srv.MutualTLS() != tc.mutual {
				t.Errorf("MutualTLS = %v, want %v", srv.MutualTLS(), tc.mutual)
			}
			var got atomic.Value
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- srv.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, err := srv.Authenticate(r)
					got.Store(fmt.Sprint(err))
				}))
			}()
			defer func() { cancel(); <-done }()
			cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12}}}
			defer cl.CloseIdleConnections()
			resp, err := cl.Get(tc.scheme + "://" + srv.Addr() + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got.Load() != fmt.Sprint(tc.want) {
				t.Errorf("Authenticate: %v, want %v", got.Load(), tc.want)
			}
		})
	}
}
