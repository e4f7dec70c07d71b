package forward

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// statusOnly reads answers by their HTTP status alone: the TLS test is
// about reaching the registry, not about what it says.
type statusOnly struct{}

func (statusOnly) Build([]byte, string, string) (Call, error) { return Call{}, nil }
func (statusOnly) Classify(_ Call, status int, _ string, _ []byte) Outcome {
	if status == http.StatusOK {
		return Outcome{Result: Registered, HTTPStatus: status}
	}
	return Outcome{Result: Park, HTTPStatus: status}
}
func (statusOnly) TransportFailure(err error) Outcome {
	return Outcome{Result: Retry, Reasons: []topics.Reason{{Code: "TRANSPORT_ERROR", MessageEN: err.Error()}}}
}
func (statusOnly) Lookup(Call) (Call, bool)                     { return Call{}, false }
func (statusOnly) Capabilities() Capabilities                   { return Capabilities{} }
func (statusOnly) Sign(_ context.Context, c Call) (Call, error) { return c, nil }
func (statusOnly) Inbound(context.Context, string, []byte) (seam.Inbound, error) {
	return seam.Inbound{}, errors.New("none")
}
func (statusOnly) Answer(context.Context, seam.Inbound, seam.File) seam.Answer {
	return seam.Answer{Status: http.StatusNotFound}
}
func (statusOnly) Reason(code string) topics.Reason { return topics.Reason{Code: code} }

// TestRegistryMTLS: a registry that demands a client certificate is
// reached with the one configured for it, and refuses the gateway
// without it or when the gateway does not trust the registry.
func TestRegistryMTLS(t *testing.T) {
	pki := testtool.NewPKI(t)
	other := testtool.NewPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.TLS = pki.Server
	srv.StartTLS()
	defer srv.Close()

	for _, tc := range []struct {
		name string
		tls  config.ClientTLS
		want Result
	}{
		{"client certificate configured", config.ClientTLS{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, Registered},
		{"no client certificate", config.ClientTLS{CAFile: pki.CAFile}, Retry},
		{"registry not trusted", config.ClientTLS{CAFile: other.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultDestination()
			cfg.URL, cfg.TLS, cfg.Attempts = srv.URL, tc.tls, 1
			cfg.Timeout = config.Duration(2 * time.Second)
			s, err := newSender("test", cfg, statusOnly{}, NewMetrics(nil), nil, testLog())
			if err != nil {
				t.Fatal(err)
			}
			out, _ := s.send(context.Background(), Call{Method: http.MethodPost, Path: "/x", Body: []byte(`{}`), IdempotencyKey: "k"}, false, nil)
			if out.Result != tc.want {
				t.Fatalf("result %s (%+v), want %s", out.Result, out.Reasons, tc.want)
			}
		})
	}
	cfg := config.DefaultDestination()
	cfg.URL, cfg.TLS = srv.URL, config.ClientTLS{CertFile: "/nonexistent/client.pem", KeyFile: "/nonexistent/client.key"}
	if _, err := newSender("test", cfg, statusOnly{}, NewMetrics(nil), nil, testLog()); err == nil {
		t.Fatal("a missing client certificate was accepted")
	}
}
