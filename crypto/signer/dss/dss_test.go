package dss

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

// quiet is a logger tests inspect for leaks.
func quiet(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func clientCreds(t *testing.T, f *fakeDSS) TokenSource {
	t.Helper()
	src, err := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, ClientSecret: secret.New(f.clientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func passwordGrant(t *testing.T, f *fakeDSS) TokenSource {
	t.Helper()
	src, err := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, Username: f.username, Password: secret.New(f.password)})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func digestOf(alg signer.Algorithm, msg string) []byte {
	h := alg.NewHash()
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func TestSignDigestVerifies(t *testing.T) {
	tests := []struct {
		name    string
		alg     signer.Algorithm
		certID  func(f *fakeDSS) int
		reverse bool
		pin     bool
		auth    func(t *testing.T, f *fakeDSS) TokenSource
	}{
		{"256, default certificate, CryptoAPI order, client credentials", signer.GOST2012_256, func(*fakeDSS) int { return 0 }, true, true, clientCreds},
		{"256, certificate by id, RFC order, password grant", signer.GOST2012_256, func(f *fakeDSS) int { return f.keyID }, false, true, passwordGrant},
		{"512, certificate by id, CryptoAPI order, no PIN", signer.GOST2012_512, func(f *fakeDSS) int { return f.keyID }, true, false, clientCreds},
		{"512, default certificate, RFC order, static token", signer.GOST2012_512, func(*fakeDSS) int { return 0 }, false, true, func(t *testing.T, f *fakeDSS) TokenSource {
			tok, _, err := mustOAuth(t, f).fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return NewStaticToken(tok)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDSS(t, tc.alg)
			f.reverse = tc.reverse
			var pin secret.Value
			if tc.pin {
				pin = secret.New(f.pin)
			} else {
				f.pin = ""
			}
			var logs bytes.Buffer
			s, err := New(context.Background(), Config{BaseURL: f.baseURL(), Auth: tc.auth(t, f), CertificateID: tc.certID(f), PIN: pin, Logger: quiet(&logs)})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if s.Algorithm() != tc.alg {
				t.Fatalf("algorithm %v, want %v", s.Algorithm(), tc.alg)
			}
			if !s.Certificate().Equal(f.key.Certificate()) {
				t.Fatal("certificate is not the key's")
			}
			tokensBefore, _, _ := f.counts()
			for i, msg := range []string{"", "first", "second", "third"} {
				d := digestOf(tc.alg, msg)
				sig, err := s.SignDigest(context.Background(), d)
				if err != nil {
					t.Fatalf("SignDigest %d: %v", i, err)
				}
				if err := gostx509.VerifyDigest(f.key.Certificate(), d, sig); err != nil {
					t.Fatalf("signature %d does not verify: %v", i, err)
				}
			}
			tokens, certs, signs := f.counts()
			if signs != 4 || certs != 1 {
				t.Errorf("DSS saw %d sign and %d certificate requests, want 4 and 1", signs, certs)
			}
			if tokens != tokensBefore {
				t.Errorf("signing fetched %d more tokens, want the cached one", tokens-tokensBefore)
			}
			if got := f.lastSign.Content; got != base64.StdEncoding.EncodeToString(digestOf(tc.alg, "third")) {
				t.Errorf("DSS received Content %q, want the digest only", got)
			}
			for _, leak := range []string{f.pin, f.clientSecret, f.password, "tok-"} {
				if leak != "" && strings.Contains(logs.String(), leak) {
					t.Errorf("logs contain a secret: %s", logs.String())
				}
			}
		})
	}
}

func mustOAuth(t *testing.T, f *fakeDSS) *OAuthSource {
	t.Helper()
	src, err := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, ClientSecret: secret.New(f.clientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSignDigestFailures(t *testing.T) {
	other, err := local.GenerateDevPKI(context.Background(), signer.GOST2012_256, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signWith := func(key *local.Signer, digest []byte) fault {
		return func(w http.ResponseWriter, _ *http.Request) {
			sig, err := key.SignDigest(context.Background(), digest)
			if err != nil {
				panic(err)
			}
			writeJSON(w, 200, base64.StdEncoding.EncodeToString(sig))
		}
	}
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		writeJSON(w, 200, "late")
	}

	tests := []struct {
		name       string
		setup      func(f *fakeDSS) // faults to inject
		pin        string           // "" means the right PIN
		wantOK     bool
		wantErr    error
		wantStatus int
		wantCode   string
		wantSigns  int
		wantTokens int // token requests after New's first one
	}{
		{name: "DSS refuses the parameters", setup: func(f *fakeDSS) {
			f.signFaults = []fault{dssError(400, "invalid_signature_params", "Неверно указаны параметры подписи")}
		}, wantStatus: 400, wantCode: "invalid_signature_params", wantSigns: 1},
		{name: "wrong PIN", pin: "wrong-pin-999", wantStatus: 400, wantCode: "invalid_pin", wantSigns: 1},
		{name: "500 then success", setup: func(f *fakeDSS) {
			f.signFaults = []fault{rawAnswer(500, "<html>oops</html>")}
		}, wantOK: true, wantSigns: 2},
		{name: "429 with Retry-After then success", setup: func(f *fakeDSS) {
			f.signFaults = []fault{func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "0")
				writeJSON(w, 429, map[string]string{"error": "too_many_requests"})
			}}
		}, wantOK: true, wantSigns: 2},
		{name: "503 on every attempt", setup: func(f *fakeDSS) {
			f.signFaults = []fault{dssError(503, "", ""), dssError(503, "", ""), dssError(503, "unavailable", "maintenance")}
		}, wantStatus: 503, wantCode: "unavailable", wantSigns: 3},
		{name: "token revoked: refreshed once", setup: func(f *fakeDSS) { f.revokeTokens() }, wantOK: true, wantSigns: 2, wantTokens: 1},
		{name: "401 on every request", setup: func(f *fakeDSS) {
			f.signFaults = []fault{dssError(401, "", "denied"), dssError(401, "", "denied")}
		}, wantErr: ErrAuth, wantSigns: 2, wantTokens: 1},
		{name: "403: not allowed, no refresh", setup: func(f *fakeDSS) {
			f.signFaults = []fault{dssError(403, "access_denied", "operation forbidden by policy")}
		}, wantErr: ErrAuth, wantStatus: 403, wantCode: "access_denied", wantSigns: 1},
		{name: "identity centre refuses the refresh", setup: func(f *fakeDSS) {
			f.revokeTokens()
			f.tokenFaults = []fault{dssError(400, "invalid_client", "client disabled")}
		}, wantErr: ErrAuth, wantSigns: 1, wantTokens: 1},
		{name: "every attempt times out", setup: func(f *fakeDSS) { f.signFaults = []fault{slow, slow, slow} }, wantErr: ErrTransport, wantSigns: 3},
		{name: "answer is not JSON", setup: func(f *fakeDSS) { f.signFaults = []fault{rawAnswer(200, "MIIB...")} }, wantErr: ErrMalformedResponse, wantSigns: 1},
		{name: "answer is a JSON object", setup: func(f *fakeDSS) {
			f.signFaults = []fault{func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, map[string]string{"Signature": "AAAA"})
			}}
		}, wantErr: ErrMalformedResponse, wantSigns: 1},
		{name: "answer is not base64", setup: func(f *fakeDSS) {
			f.signFaults = []fault{func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, "not*base64") }}
		}, wantErr: ErrMalformedResponse, wantSigns: 1},
		{name: "signature of the wrong size", setup: func(f *fakeDSS) {
			f.signFaults = []fault{func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, base64.StdEncoding.EncodeToString(make([]byte, 128)))
			}}
		}, wantErr: ErrMalformedResponse, wantSigns: 1},
		{name: "signed with another key", setup: func(f *fakeDSS) {
			f.signFaults = []fault{signWith(other.Leaf, digestOf(signer.GOST2012_256, "msg"))}
		}, wantErr: ErrSignatureInvalid, wantSigns: 1},
		{name: "signed another digest", setup: func(f *fakeDSS) {
			f.signFaults = []fault{signWith(f.key, digestOf(signer.GOST2012_256, "other msg"))}
		}, wantErr: ErrSignatureInvalid, wantSigns: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDSS(t, signer.GOST2012_256)
			pin := f.pin
			if tc.pin != "" {
				pin = tc.pin
			}
			var logs bytes.Buffer
			s, err := New(context.Background(), Config{
				BaseURL: f.baseURL(), Auth: clientCreds(t, f), PIN: secret.New(pin),
				RequestTimeout: 100 * time.Millisecond, Backoff: time.Millisecond, Logger: quiet(&logs),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tokens0, _, _ := f.counts()
			if tc.setup != nil {
				tc.setup(f) // no request is in flight
			}
			d := digestOf(signer.GOST2012_256, "msg")
			sig, err := s.SignDigest(context.Background(), d)
			tokens, _, signs := f.counts()
			if signs != tc.wantSigns {
				t.Errorf("DSS saw %d sign requests, want %d", signs, tc.wantSigns)
			}
			if tokens-tokens0 != tc.wantTokens {
				t.Errorf("%d token requests after New, want %d", tokens-tokens0, tc.wantTokens)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatalf("SignDigest: %v", err)
				}
				if err := gostx509.VerifyDigest(s.Certificate(), d, sig); err != nil {
					t.Fatalf("signature does not verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("SignDigest succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if tc.wantStatus != 0 {
				var de *Error
				if !errors.As(err, &de) || de.Status != tc.wantStatus || de.Code != tc.wantCode {
					t.Errorf("got %v, want a DSS error %d %s", err, tc.wantStatus, tc.wantCode)
				}
			}
			for _, leak := range []string{pin, f.clientSecret, "tok-"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Errorf("error or logs contain a secret: %v\n%s", err, logs.String())
				}
			}
		})
	}
}

func TestNewFailures(t *testing.T) {
	ecdsaPKI, err := local.GenerateDevPKI(context.Background(), signer.ECDSAP256SHA256, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     func(f *fakeDSS) Config
		setup   func(f *fakeDSS)
		wantErr error
		text    string
	}{
		{"wrong client secret", func(f *fakeDSS) Config {
			src, _ := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, ClientSecret: secret.New("not-the-secret")})
			return Config{BaseURL: f.baseURL(), Auth: src}
		}, nil, ErrAuth, "invalid_client"},
		{"wrong user password", func(f *fakeDSS) Config {
			src, _ := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, Username: f.username, Password: secret.New("not-the-password")})
			return Config{BaseURL: f.baseURL(), Auth: src}
		}, nil, ErrAuth, "invalid_grant"},
		{"static token DSS does not know", func(f *fakeDSS) Config {
			return Config{BaseURL: f.baseURL(), Auth: NewStaticToken(secret.New("forged-token"))}
		}, nil, ErrAuth, "401"},
		{"certificate id DSS does not list", func(f *fakeDSS) Config {
			return Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f), CertificateID: 99}
		}, nil, ErrCertificate, "id 99"},
		{"no default certificate", func(f *fakeDSS) Config {
			return Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f)}
		}, func(f *fakeDSS) { f.noDefault = true }, ErrCertificate, "default"},
		{"an ECDSA certificate", func(f *fakeDSS) Config {
			return Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f), Certificate: ecdsaPKI.Leaf.Certificate()}
		}, nil, ErrCertificate, "ECDSA"},
		{"wrong base URL path", func(f *fakeDSS) Config {
			return Config{BaseURL: f.srv.URL + "/nothing", Auth: clientCreds(t, f)}
		}, nil, nil, "HTTP 404"},
		{"DSS not listening", func(f *fakeDSS) Config {
			return Config{BaseURL: "http://127.0.0.1:1/SignServer/rest/api", Auth: NewStaticToken(secret.New("t")), MaxAttempts: 2, Backoff: time.Millisecond}
		}, nil, ErrTransport, "127.0.0.1:1"},
		{"not a URL", func(f *fakeDSS) Config {
			return Config{BaseURL: "dss.example.ru", Auth: NewStaticToken(secret.New("t"))}
		}, nil, nil, "not an http(s) URL"},
		{"no token source", func(f *fakeDSS) Config { return Config{BaseURL: f.baseURL()} }, nil, nil, "no token source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDSS(t, signer.GOST2012_256)
			if tc.setup != nil {
				tc.setup(f)
			}
			cfg := tc.cfg(f)
			cfg.Logger = quiet(&bytes.Buffer{})
			_, err := New(context.Background(), cfg)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			for _, leak := range []string{"not-the-secret", "not-the-password", "forged-token"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error contains a secret: %v", err)
				}
			}
		})
	}
}

func TestConfiguredCertificateSkipsTheList(t *testing.T) {
	f := newFakeDSS(t, signer.GOST2012_256)
	s, err := New(context.Background(), Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f), CertificateID: f.keyID, Certificate: f.key.Certificate(), PIN: secret.New(f.pin), Logger: quiet(&bytes.Buffer{})})
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(signer.GOST2012_256, "x")
	sig, err := s.SignDigest(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if err := gostx509.VerifyDigest(f.key.Certificate(), d, sig); err != nil {
		t.Fatal(err)
	}
	if _, certs, _ := f.counts(); certs != 0 {
		t.Errorf("DSS saw %d certificate requests, want none", certs)
	}
}

func TestSignDigestContextAndInput(t *testing.T) {
	f := newFakeDSS(t, signer.GOST2012_256)
	s, err := New(context.Background(), Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f), PIN: secret.New(f.pin), Backoff: time.Hour, Logger: quiet(&bytes.Buffer{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignDigest(context.Background(), make([]byte, 64)); !errors.Is(err, ErrDigestSize) {
		t.Errorf("512-bit digest for a 256-bit key: got %v, want ErrDigestSize", err)
	}
	// A transient failure followed by an hour's backoff: the caller's
	// deadline ends the wait.
	f.mu.Lock()
	f.signFaults = []fault{dssError(503, "", "")}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.SignDigest(ctx, digestOf(signer.GOST2012_256, "x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("SignDigest took %v after its context ended", time.Since(start))
	}
}

func TestOAuthTokenExpiry(t *testing.T) {
	f := newFakeDSS(t, signer.GOST2012_256)
	now := time.Unix(1_800_000_000, 0)
	src, err := NewOAuthSource(OAuthConfig{TokenURL: f.tokenURL(), ClientID: f.clientID, ClientSecret: secret.New(f.clientSecret), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(200 * time.Second) // within 300 s less the margin
	again, _ := src.Token(context.Background())
	if again.Reveal() != first.Reveal() {
		t.Error("token refetched before expiry")
	}
	now = now.Add(80 * time.Second) // 280 s: inside the 30 s margin
	later, _ := src.Token(context.Background())
	if later.Reveal() == first.Reveal() {
		t.Error("token not refreshed near expiry")
	}
	src.Invalidate(later)
	fresh, _ := src.Token(context.Background())
	if fresh.Reveal() == later.Reveal() {
		t.Error("invalidated token returned again")
	}
	if tokens, _, _ := f.counts(); tokens != 3 {
		t.Errorf("%d token requests, want 3", tokens)
	}
}

func TestNewOAuthSourceValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  OAuthConfig
	}{
		{"no URL", OAuthConfig{ClientID: "c", ClientSecret: secret.New("s")}},
		{"no client", OAuthConfig{TokenURL: "https://dss/STS/oauth/token", ClientSecret: secret.New("s")}},
		{"no credentials", OAuthConfig{TokenURL: "https://dss/STS/oauth/token", ClientID: "c"}},
		{"user without password", OAuthConfig{TokenURL: "https://dss/STS/oauth/token", ClientID: "c", Username: "u"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewOAuthSource(tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	long := strings.Repeat("я", 300)
	tests := []struct{ in, want string }{
		{"line1\nline2\r\x00end", "line1 line2  end"},
		{"  padded  ", "padded"},
		{long, strings.Repeat("я", 200) + "…"},
	}
	for _, tc := range tests {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in[:min(len(tc.in), 20)], got, tc.want)
		}
	}
}

func TestConcurrentSigningAcrossATokenRevocation(t *testing.T) {
	f := newFakeDSS(t, signer.GOST2012_256)
	s, err := New(context.Background(), Config{BaseURL: f.baseURL(), Auth: clientCreds(t, f), PIN: secret.New(f.pin), Backoff: time.Millisecond, Logger: quiet(&bytes.Buffer{})})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 6
	errs := make(chan error, workers*each)
	start := make(chan struct{})
	for w := range workers {
		go func() {
			<-start
			for i := range each {
				if w == 0 && i == each/2 {
					f.revokeTokens() // every cached token goes stale at once
				}
				d := digestOf(signer.GOST2012_256, fmt.Sprintf("w%d-%d", w, i))
				sig, err := s.SignDigest(context.Background(), d)
				if err == nil {
					err = gostx509.VerifyDigest(s.Certificate(), d, sig)
				}
				errs <- err
			}
		}()
	}
	close(start)
	for range workers * each {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
