package signerconfig

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/dss"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/pkcs12"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

func TestValidate(t *testing.T) {
	oauth := DSS{URL: "https://dss.example.ru/SignServer/rest/api", TokenURL: "https://dss.example.ru/STS/oauth/token", ClientID: "gw", ClientSecret: secret.Source{Env: "DSS_SECRET"}}
	with := func(f func(d *DSS)) DSS { d := oauth; f(&d); return d }
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"local PEM", Config{Kind: KindLocal, Local: Local{KeyFile: "k.pem", CertFile: "c.pem"}}, nil},
		{"local PKCS #12", Config{Kind: KindLocal, Local: Local{PKCS12File: "k.p12", Password: secret.Source{File: "pw"}}}, nil},
		{"local PKCS #12 without password", Config{Kind: KindLocal, Local: Local{PKCS12File: "k.p12"}}, nil},
		{"local both", Config{Kind: KindLocal, Local: Local{KeyFile: "k.pem", CertFile: "c.pem", PKCS12File: "k.p12"}}, []string{"not both"}},
		{"local neither", Config{Kind: KindLocal}, []string{"set key_file and cert_file, or pkcs12_file"}},
		{"local key without certificate", Config{Kind: KindLocal, Local: Local{KeyFile: "k.pem"}}, []string{"go together"}},
		{"local encrypted PEM", Config{Kind: KindLocal, Local: Local{KeyFile: "k.pem", CertFile: "c.pem", Password: secret.Source{Env: "X"}}}, nil},
		{"local password from two places", Config{Kind: KindLocal, Local: Local{PKCS12File: "k.p12", Password: secret.Source{Env: "X", File: "f"}}}, []string{"both a file and an environment variable"}},
		{"DSS client credentials", Config{Kind: KindCryptoProDSS, DSS: oauth}, nil},
		{"DSS password grant", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) {
			d.ClientSecret = secret.Source{}
			d.Username, d.Password = "svc", secret.Source{File: "pw"}
		})}, nil},
		{"DSS static token", Config{Kind: KindCryptoProDSS, DSS: DSS{URL: oauth.URL, Token: secret.Source{File: "tok"}, PIN: secret.Source{Env: "PIN"}}}, nil},
		{"DSS token and OAuth", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) { d.Token = secret.Source{File: "tok"} })}, []string{"not both"}},
		{"DSS without URLs or client", Config{Kind: KindCryptoProDSS, DSS: DSS{ClientSecret: secret.Source{Env: "S"}}}, []string{"url: not set", "token_url: not set", "client_id: not set"}},
		{"DSS URL without scheme", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) { d.URL = "dss.example.ru/SignServer" })}, []string{"not an http(s) URL"}},
		{"DSS no credentials", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) { d.ClientSecret = secret.Source{} })}, []string{"set client_secret"}},
		{"DSS username without password", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) { d.Username = "svc" })}, []string{"username and password go together"}},
		{"DSS PIN from two places", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) { d.PIN = secret.Source{Env: "A", File: "b"} })}, []string{"pin: secret source names both"}},
		{"DSS negative numbers", Config{Kind: KindCryptoProDSS, DSS: with(func(d *DSS) {
			d.CertificateID, d.RequestTimeout, d.MaxAttempts = -1, -time.Second, 11
		})}, []string{"certificate_id", "request_timeout", "max_attempts"}},
		{"no kind", Config{}, []string{"kind is not set"}},
		{"unknown kind", Config{Kind: "pkcs11"}, []string{`unknown kind "pkcs11"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestYAMLShape(t *testing.T) {
	const doc = `
kind: cryptopro-dss
cryptopro_dss:
  url: https://dss.example.ru/SignServer/rest/api
  token_url: https://dss.example.ru/STS/oauth/token
  client_id: egisz-gateway
  client_secret: {file: /run/secrets/dss-client-secret}
  certificate_id: 12
  pin: {env: EGISZ_DSS_PIN}
  request_timeout: 15s
  max_attempts: 4
`
	var cfg Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := DSS{
		URL: "https://dss.example.ru/SignServer/rest/api", TokenURL: "https://dss.example.ru/STS/oauth/token",
		ClientID: "egisz-gateway", ClientSecret: secret.Source{File: "/run/secrets/dss-client-secret"},
		CertificateID: 12, PIN: secret.Source{Env: "EGISZ_DSS_PIN"}, RequestTimeout: 15 * time.Second, MaxAttempts: 4,
	}
	if cfg.Kind != KindCryptoProDSS || cfg.DSS != want {
		t.Fatalf("decoded %+v, want %+v", cfg.DSS, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func signAndVerify(t *testing.T, s signer.Signer) {
	t.Helper()
	h := s.Algorithm().NewHash()
	h.Write([]byte("<Body/>"))
	d := h.Sum(nil)
	sig, err := s.SignDigest(context.Background(), d)
	if err != nil {
		t.Fatalf("SignDigest: %v", err)
	}
	if err := gostx509.VerifyDigest(s.Certificate(), d, sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}

func TestNewLocal(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	pki, err := local.GenerateDevPKI(context.Background(), signer.GOST2012_256, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "pkcs12", "-engine", "gost", "-export", "-inkey", "signer.key.pem", "-in", "signer.pem", "-out", "signer.p12", "-passout", "file:pw.txt")
	cmd.Dir = dir
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("pfx-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "wrong.txt"), []byte("not-the-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNER_TEST_PFX_PASS", "pfx-pass")
	p := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name    string
		cfg     Local
		wantErr error
		text    string
	}{
		{"PEM files", Local{KeyFile: p("signer.key.pem"), CertFile: p("signer.pem")}, nil, ""},
		{"PKCS #12, password file", Local{PKCS12File: p("signer.p12"), Password: secret.Source{File: p("pw.txt")}}, nil, ""},
		{"PKCS #12, password env", Local{PKCS12File: p("signer.p12"), Password: secret.Source{Env: "SIGNER_TEST_PFX_PASS"}}, nil, ""},
		{"PKCS #12, wrong password", Local{PKCS12File: p("signer.p12"), Password: secret.Source{File: p("wrong.txt")}}, pkcs12.ErrIncorrectPassword, ""},
		{"PKCS #12, unset env", Local{PKCS12File: p("signer.p12"), Password: secret.Source{Env: "SIGNER_TEST_UNSET"}}, nil, "SIGNER_TEST_UNSET is not set"},
		{"CA certificate as the key's", Local{KeyFile: p("signer.key.pem"), CertFile: p("ca.pem")}, local.ErrKeyCertificateMismatch, ""},
		{"missing key file", Local{KeyFile: p("none.pem"), CertFile: p("signer.pem")}, os.ErrNotExist, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(context.Background(), Config{Kind: KindLocal, Local: tc.cfg})
			if tc.wantErr == nil && tc.text == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if !s.Certificate().Equal(pki.Leaf.Certificate()) {
					t.Fatal("not the leaf's certificate")
				}
				signAndVerify(t, s)
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if strings.Contains(err.Error(), "pfx-pass") || strings.Contains(err.Error(), "not-the-pass") {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
}

// miniDSS is just enough of DSS to check the wiring from configuration to
// a working dss.Signer; the protocol itself is tested in package dss.
func miniDSS(t *testing.T, key *local.Signer, clientSecret, pin string) *httptest.Server {
	t.Helper()
	const token = "issued-token"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /STS/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_secret") != clientSecret {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"` + token + `","token_type":"Bearer","expires_in":300}`))
	})
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(401)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /SignServer/rest/api/certificates", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			_ = json.NewEncoder(w).Encode([]map[string]any{{"ID": 5, "IsDefault": true, "CertificateBase64": base64.StdEncoding.EncodeToString(key.Certificate().Raw)}})
		}
	})
	mux.HandleFunc("POST /SignServer/rest/api/documents", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		var req struct {
			Content   string
			Signature struct{ PinCode string }
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Signature.PinCode != pin {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_pin"}`))
			return
		}
		digest, _ := base64.StdEncoding.DecodeString(req.Content)
		sig, err := key.SignDigest(r.Context(), digest)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		_ = json.NewEncoder(w).Encode(base64.StdEncoding.EncodeToString(sig))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestNewDSS(t *testing.T) {
	pki, err := local.GenerateDevPKI(context.Background(), signer.GOST2012_512, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := miniDSS(t, pki.Leaf, "client-secret-1", "1234")
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte("client-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong-secret")
	if err := os.WriteFile(wrongFile, []byte("client-secret-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "signer.pem"), certFile); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNER_TEST_DSS_PIN", "1234")
	base := DSS{URL: srv.URL + "/SignServer/rest/api", TokenURL: srv.URL + "/STS/oauth/token", ClientID: "gw",
		ClientSecret: secret.Source{File: secretFile}, PIN: secret.Source{Env: "SIGNER_TEST_DSS_PIN"}, RequestTimeout: time.Second}
	tests := []struct {
		name    string
		mod     func(d *DSS)
		wantErr error
	}{
		{"certificate from DSS", func(*DSS) {}, nil},
		{"certificate from file", func(d *DSS) { d.CertFile = certFile }, nil},
		{"wrong client secret", func(d *DSS) { d.ClientSecret = secret.Source{File: wrongFile} }, dss.ErrAuth},
		{"missing secret file", func(d *DSS) { d.ClientSecret = secret.Source{File: filepath.Join(dir, "none")} }, os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.mod(&d)
			s, err := New(context.Background(), Config{Kind: KindCryptoProDSS, DSS: d})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "client-secret-") {
					t.Errorf("error contains the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if s.Algorithm() != signer.GOST2012_512 {
				t.Errorf("algorithm %v", s.Algorithm())
			}
			signAndVerify(t, s)
		})
	}
}
