package adminapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func writeUsers(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadUsers(t *testing.T) {
	for _, tc := range []struct {
		name, body, err string
	}{
		{"good", "# comment\n\nvera viewer token:abc\noleg operator sha256:" + strings.Repeat("ab", 32) + "\negisz auditor mtls\n", ""},
		{"unknown role", "vera admin token:abc\n", ":1: role \"admin\""},
		{"short hash", "vera viewer sha256:abcd\n", ":1: sha256: wants 64 hex digits"},
		{"two fields", "\nvera viewer\n", ":2: want `<name> <role> <credential>`"},
		{"plain password", "vera viewer hunter2\n", ":1: credential must be"},
		{"twice", "vera viewer token:a\nvera operator token:b\n", ":2: vera appears twice"},
		{"empty", "# nobody\n", "no users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadUsers(writeUsers(t, tc.body))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Error("the error repeats the credential")
			}
		})
	}
}

// TestMTLSAndTokens: over HTTPS, a client certificate of the CA whose
// common name is an mtls user gets that user's role; a certificate of a
// name not in the file, or none, gets nothing without a token; a token
// still works beside mTLS.
func TestMTLSAndTokens(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	cl := kc.Client(t)
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Default().WithPrefix(kc.Prefix), -1); err != nil {
		t.Fatal(err)
	}
	svc, err := dlq.New(dlq.Config{KafkaOpt: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Prefix: kc.Prefix, Catalog: topics.Default()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	pki := testtool.NewPKI(t)
	for _, tc := range []struct {
		name, users string
		cert        bool
		token       string
		want        int
	}{
		{"certificate of an auditor", "egisz auditor mtls\n", true, "", 200},
		{"certificate of a viewer", "egisz viewer mtls\n", true, "", 403},
		{"certificate not in the file", "someone auditor mtls\n", true, "", 401},
		{"a token user is not a certificate user", "egisz auditor token:t1\n", true, "", 401},
		{"no certificate, a token", "egisz auditor mtls\nanna auditor token:t2\n", false, "t2", 200},
		{"nothing", "egisz auditor mtls\n", false, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, err := LoadUsers(writeUsers(t, tc.users))
			if err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(ctx)
			addr := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- Serve(sctx, Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile},
					New(svc, users, testLog(), nil), func(a string) { addr <- a })
			}()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			pem, _ := os.ReadFile(pki.CAFile)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			if tc.cert {
				c, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
				if err != nil {
					t.Fatal(err)
				}
				tlsCfg.Certificates = []tls.Certificate{c}
			}
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 30 * time.Second}
			c := &Client{Base: "https://" + <-addr, Token: tc.token, HTTP: hc}
			var out map[string]json.RawMessage
			err = c.call(ctx, http.MethodGet, "/audit", nil, &out)
			got := 200
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				got = apiErr.Status
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("GET /audit: %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

func TestPlainHTTPIsRefusedByAnHTTPSServer(t *testing.T) {
	pki := testtool.NewPKI(t)
	users, _ := LoadUsers(writeUsers(t, "egisz auditor mtls\n"))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addr := make(chan string, 1)
	go func() {
		_ = Serve(ctx, Options{Listen: "127.0.0.1:0", CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile}, New(nil, users, testLog(), nil), func(a string) { addr <- a })
	}()
	resp, err := http.Get("http://" + <-addr + Base + "/audit")
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP reached the API")
		}
	}
}

func testLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
