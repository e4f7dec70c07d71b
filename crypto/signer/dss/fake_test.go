package dss

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
)

// fakeDSS is a CryptoPro DSS as guesses.go describes it: an identity
// centre at /STS/oauth/token and a Signing Service at
// /SignServer/rest/api, signing with a real in-process ГОСТ key.
type fakeDSS struct {
	t      testing.TB
	srv    *httptest.Server
	key    *local.Signer // the key DSS holds, certificate id keyID
	keyID  int
	others []certificateInfo // other certificates DSS lists

	clientID, clientSecret string
	username, password     string
	pin                    string // the key's PIN, "" for none
	tokenTTL               int
	reverse                bool // answer in CryptoAPI byte order
	noDefault              bool // list no certificate as the default

	mu            sync.Mutex
	tokens        map[string]bool
	nextToken     int
	tokenRequests int
	certRequests  int
	signRequests  int
	signFaults    []fault // consumed one per sign request
	tokenFaults   []fault // consumed one per token request
	lastSign      documentRequest
}

// fault answers a request instead of the fake's normal behaviour.
type fault func(w http.ResponseWriter, r *http.Request)

func newFakeDSS(t testing.TB, alg signer.Algorithm) *fakeDSS {
	t.Helper()
	pki, err := local.GenerateDevPKI(context.Background(), alg, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDSS{
		t:            t,
		key:          pki.Leaf,
		keyID:        7,
		others:       []certificateInfo{{ID: 3, CertificateBase64: base64.StdEncoding.EncodeToString(pki.CA.Certificate().Raw)}},
		clientID:     "gateway",
		clientSecret: "client-s3cret",
		username:     "svc-gateway",
		password:     "user-pa55",
		pin:          "key-p1n-0042",
		tokenTTL:     300,
		reverse:      true,
		tokens:       map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /STS/oauth/token", f.token)
	mux.HandleFunc("GET /SignServer/rest/api/certificates", f.certificates)
	mux.HandleFunc("POST /SignServer/rest/api/documents", f.documents)
	f.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDSS) baseURL() string  { return f.srv.URL + "/SignServer/rest/api" }
func (f *fakeDSS) tokenURL() string { return f.srv.URL + "/STS/oauth/token" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func dssError(status int, code, desc string) fault {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
}

func rawAnswer(status int, body string) fault {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func (f *fakeDSS) popFault(q *[]fault) fault {
	if len(*q) == 0 {
		return nil
	}
	x := (*q)[0]
	*q = (*q)[1:]
	return x
}

func (f *fakeDSS) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenRequests++
	flt := f.popFault(&f.tokenFaults)
	f.mu.Unlock()
	if flt != nil {
		flt(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("client_id") != f.clientID || r.PostForm.Get("resource") == "" {
		writeJSON(w, 400, map[string]string{"error": "invalid_client", "error_description": "Unknown client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_secret") != f.clientSecret {
			writeJSON(w, 400, map[string]string{"error": "invalid_client", "error_description": "Client authentication failed"})
			return
		}
	case "password":
		if r.PostForm.Get("username") != f.username || r.PostForm.Get("password") != f.password {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Wrong user name or password"})
			return
		}
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	f.mu.Lock()
	f.nextToken++
	tok := fmt.Sprintf("tok-%d-%d", f.nextToken, time.Now().UnixNano())
	f.tokens[tok] = true
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": f.tokenTTL})
}

// authorized checks the bearer token and answers 401 when it is not valid.
func (f *fakeDSS) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := ok && f.tokens[tok]
	f.mu.Unlock()
	if !valid {
		writeJSON(w, 401, map[string]string{"Message": "Authorization has been denied for this request."})
	}
	return valid
}

func (f *fakeDSS) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeDSS) certificates(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.certRequests++
	f.mu.Unlock()
	if !f.authorized(w, r) {
		return
	}
	list := append([]certificateInfo{{
		ID:                f.keyID,
		CertificateBase64: base64.StdEncoding.EncodeToString(f.key.Certificate().Raw),
		IsDefault:         !f.noDefault,
		HasPin:            f.pin != "",
	}}, f.others...)
	writeJSON(w, 200, list)
}

func (f *fakeDSS) documents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.signRequests++
	flt := f.popFault(&f.signFaults)
	f.mu.Unlock()
	if !f.authorized(w, r) {
		return
	}
	if flt != nil {
		flt(w, r)
		return
	}
	var req documentRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "Body is not a Document"})
		return
	}
	f.mu.Lock()
	f.lastSign = req
	f.mu.Unlock()
	if req.Signature.Type != "GOST3410" || req.Signature.Parameters["Hash"] != "True" {
		writeJSON(w, 400, map[string]string{"error": "invalid_signature_params", "error_description": "Неверно указаны параметры подписи"})
		return
	}
	if id := req.Signature.CertificateID; id != f.keyID && id != 0 {
		writeJSON(w, 404, map[string]string{"error": "object_not_found", "error_description": "Certificate not found"})
		return
	}
	if req.Signature.PinCode != f.pin {
		writeJSON(w, 400, map[string]string{"error": "invalid_pin", "error_description": "Неверный ПИН-код"})
		return
	}
	digest, err := base64.StdEncoding.DecodeString(req.Content)
	if err != nil {
		writeJSON(w, 400, map[string]string{"error": "content_required"})
		return
	}
	sig, err := f.key.SignDigest(r.Context(), digest)
	if err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_hash", "error_description": "Hash size does not match"})
		return
	}
	if f.reverse {
		sig = reversed(sig)
	}
	writeJSON(w, 200, base64.StdEncoding.EncodeToString(sig))
}

func (f *fakeDSS) counts() (tokens, certs, signs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests, f.certRequests, f.signRequests
}
