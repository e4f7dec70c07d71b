// Package dss is a signer.Signer whose key lives in CryptoPro DSS, the
// certified server-side signing service (СКЗИ) production signs with. Only
// the digest crosses the wire: SignDigest asks DSS for a raw ГОСТ Р
// 34.10-2012 signature of a hash value, authenticated by an OAuth bearer
// token and, where the key has one, its PIN.
//
// Every returned signature is verified with the certificate's public key
// before it is handed back, so a DSS that signs with another key, or lays
// out the signature differently from what guesses.go expects, fails here
// and not days later at the registry. What the public DSS documentation
// leaves open is kept in guesses.go with its source.
package dss

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

// maxBody bounds how much of a DSS answer is read.
const maxBody = 1 << 20

// Defaults for Config's zero values.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxAttempts    = 3
	defaultBackoff        = 200 * time.Millisecond
	maxBackoff            = 3 * time.Second
)

// Config configures a DSS signer.
type Config struct {
	// BaseURL is the Signing Service's REST API root, e.g.
	// https://dss.example.ru/SignServer/rest/api.
	BaseURL string
	// Auth gives the bearer tokens: an *OAuthSource or a *StaticToken.
	Auth TokenSource
	// CertificateID is the key's certificate in DSS; 0 is the user's
	// default certificate.
	CertificateID int
	// Certificate, when set, is the key's certificate and is not fetched
	// from DSS.
	Certificate *x509.Certificate
	// PIN is the key's PIN, empty when the key has none.
	PIN secret.Value
	// HTTPClient makes the requests; nil means a new http.Client.
	// RequestTimeout bounds each attempt either way.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxAttempts is how many times a request that failed for a
	// transient reason is tried; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait before the second attempt, doubled for each
	// next one (capped at 3 s, with jitter); 0 means 200 ms.
	Backoff time.Duration
	// Logger receives retries and the learned signature byte order; nil
	// means slog.Default(). Nothing secret is logged.
	Logger *slog.Logger
}

// byteOrder is how a raw ГОСТ signature's bytes are laid out.
type byteOrder int32

const (
	// orderRFC is s || r, each big-endian (RFC 4491 §2.2.2).
	orderRFC byteOrder = iota + 1
	// orderReversed is the whole of s || r reversed (CryptoAPI).
	orderReversed
)

func (o byteOrder) String() string {
	if o == orderReversed {
		return "reversed (CryptoAPI)"
	}
	return "s||r big-endian (RFC 4491)"
}

// Signer signs digests with a key held in CryptoPro DSS. It is safe for
// concurrent use.
type Signer struct {
	base     *url.URL
	auth     TokenSource
	certID   int
	cert     *x509.Certificate
	alg      signer.Algorithm
	pin      secret.Value
	client   *http.Client
	timeout  time.Duration
	attempts int
	backoff  time.Duration
	log      *slog.Logger
	order    atomic.Int32 // byteOrder DSS was last seen to use
}

var _ signer.Signer = (*Signer)(nil)

// New checks cfg and returns a signer. Unless cfg.Certificate is set it
// fetches the key's certificate from DSS, so a bad URL, token or
// certificate id fails here, at start-up.
func New(ctx context.Context, cfg Config) (*Signer, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("dss: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.Auth == nil {
		return nil, errors.New("dss: no token source")
	}
	if cfg.CertificateID < 0 {
		return nil, fmt.Errorf("dss: certificate id %d is negative", cfg.CertificateID)
	}
	s := &Signer{
		base:     base,
		auth:     cfg.Auth,
		certID:   cfg.CertificateID,
		pin:      cfg.PIN,
		client:   cfg.HTTPClient,
		timeout:  cfg.RequestTimeout,
		attempts: cfg.MaxAttempts,
		backoff:  cfg.Backoff,
		log:      cfg.Logger,
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.attempts <= 0 {
		s.attempts = DefaultMaxAttempts
	}
	if s.backoff <= 0 {
		s.backoff = defaultBackoff
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.order.Store(int32(signatureByteOrder))

	cert := cfg.Certificate
	if cert == nil {
		cert, err = s.fetchCertificate(ctx)
		if err != nil {
			return nil, err
		}
	}
	alg, err := gostx509.Algorithm(cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if alg != signer.GOST2012_256 && alg != signer.GOST2012_512 {
		return nil, fmt.Errorf("%w: %s is not a ГОСТ Р 34.10-2012 key", ErrCertificate, alg)
	}
	s.cert, s.alg = cert, alg
	return s, nil
}

// Algorithm is the key's algorithm.
func (s *Signer) Algorithm() signer.Algorithm { return s.alg }

// Certificate is the key's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// SignDigest asks DSS to sign digest and returns the raw signature, s || r,
// after verifying it with the certificate's key.
func (s *Signer) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if want := s.alg.NewHash().Size(); len(digest) != want {
		return nil, fmt.Errorf("%w: %d bytes, %s signs %d", ErrDigestSize, len(digest), s.alg, want)
	}
	body, err := json.Marshal(documentRequest{
		Content: base64.StdEncoding.EncodeToString(digest),
		Signature: signatureParams{
			Type:          signatureTypeRaw,
			Parameters:    map[string]string{paramHash: paramTrue},
			CertificateID: s.certID,
			PinCode:       s.pin.Reveal(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dss: encode sign request: %w", err)
	}
	answer, err := s.do(ctx, http.MethodPost, pathDocuments, body)
	if err != nil {
		return nil, fmt.Errorf("dss sign: %w", err)
	}
	var b64 string
	if err := json.Unmarshal(answer, &b64); err != nil {
		return nil, fmt.Errorf("%w: sign answer is not a JSON string", ErrMalformedResponse)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: sign answer is not base64", ErrMalformedResponse)
	}
	if len(raw) != s.alg.SignatureSize() {
		return nil, fmt.Errorf("%w: signature is %d bytes, %s makes %d", ErrMalformedResponse, len(raw), s.alg, s.alg.SignatureSize())
	}
	return s.normalize(digest, raw)
}

// normalize returns raw as s || r, trying the byte order DSS was last seen
// to use first. Only one order can verify for a given digest and key.
func (s *Signer) normalize(digest, raw []byte) ([]byte, error) {
	first := byteOrder(s.order.Load())
	for _, o := range []byteOrder{first, 3 - first} {
		sig := raw
		if o == orderReversed {
			sig = reversed(raw)
		}
		if gostx509.VerifyDigest(s.cert, digest, sig) == nil {
			if o != first {
				s.order.Store(int32(o))
				s.log.Info("dss: signatures arrive in another byte order than configured", "order", o.String())
			}
			return sig, nil
		}
	}
	return nil, ErrSignatureInvalid
}

// fetchCertificate gets the configured certificate (or the default one)
// from DSS's certificate list.
func (s *Signer) fetchCertificate(ctx context.Context) (*x509.Certificate, error) {
	answer, err := s.do(ctx, http.MethodGet, pathCertificates, nil)
	if err != nil {
		return nil, fmt.Errorf("dss list certificates: %w", err)
	}
	var list []certificateInfo
	if err := json.Unmarshal(answer, &list); err != nil {
		return nil, fmt.Errorf("%w: certificate list is not a JSON array of certificates", ErrMalformedResponse)
	}
	for _, c := range list {
		if (s.certID == defaultCertificateID && c.IsDefault) || (s.certID != defaultCertificateID && c.ID == s.certID) {
			der, err := base64.StdEncoding.DecodeString(c.CertificateBase64)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d is not base64", ErrMalformedResponse, c.ID)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %w", ErrCertificate, c.ID, err)
			}
			if c.HasPin && s.pin.IsZero() {
				s.log.Warn("dss: the key has a PIN and none is configured", "certificate_id", c.ID)
			}
			return cert, nil
		}
	}
	if s.certID == defaultCertificateID {
		return nil, fmt.Errorf("%w: DSS lists %d certificates and none is the default", ErrCertificate, len(list))
	}
	return nil, fmt.Errorf("%w: DSS lists %d certificates and none has id %d", ErrCertificate, len(list), s.certID)
}

// do sends one API request with retries: transport failures, 5xx and 429
// are retried (signing a digest and listing certificates are idempotent);
// a 401 refreshes the token once, a 403 is final. It returns a 200
// answer's body.
func (s *Signer) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	target := s.base.JoinPath(path).String()
	var lastErr error
	refreshed := false
	for attempt := 1; attempt <= s.attempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, s.wait(attempt, lastErr)); err != nil {
				return nil, fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
		}
		tok, err := s.auth.Token(ctx)
		if err != nil {
			if errors.Is(err, ErrAuth) || ctx.Err() != nil {
				return nil, err
			}
			lastErr = err
			continue
		}
		status, answer, header, err := s.once(ctx, method, target, body, tok)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrTransport, ctx.Err())
			}
			lastErr = fmt.Errorf("%w: %w", ErrTransport, err)
			s.log.Warn("dss: request failed, will retry", "path", path, "attempt", attempt, "error", err)
			continue
		case status == http.StatusOK:
			return answer, nil
		case status == http.StatusForbidden:
			// Authenticated but not allowed (policy, a blocked key): a
			// fresh token would be refused the same way.
			return nil, fmt.Errorf("%w: %w", ErrAuth, parseError(status, answer))
		case status == http.StatusUnauthorized:
			s.auth.Invalidate(tok)
			dssErr := parseError(status, answer)
			if refreshed {
				return nil, fmt.Errorf("%w: %w", ErrAuth, dssErr)
			}
			if _, static := s.auth.(*StaticToken); static {
				return nil, fmt.Errorf("%w: %w", ErrAuth, dssErr)
			}
			refreshed = true
			lastErr = fmt.Errorf("%w: %w", ErrAuth, dssErr)
			attempt-- // a token refresh is not a failed attempt
			continue
		default:
			dssErr := parseError(status, answer)
			if !dssErr.Temporary() {
				return nil, dssErr
			}
			lastErr = &retryableError{err: dssErr, retryAfter: header.Get("Retry-After")}
			s.log.Warn("dss: transient refusal, will retry", "path", path, "attempt", attempt, "status", status)
		}
	}
	if re, ok := lastErr.(*retryableError); ok {
		return nil, re.err
	}
	return nil, lastErr
}

// once makes one HTTP request under the per-attempt timeout.
func (s *Signer) once(ctx context.Context, method, target string, body []byte, tok secret.Value) (int, []byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, answer, resp.Header, nil
}

// wait is the pause before attempt: exponential with jitter, or DSS's
// Retry-After when it sent one, both capped.
func (s *Signer) wait(attempt int, lastErr error) time.Duration {
	var re *retryableError
	if errors.As(lastErr, &re) && re.retryAfter != "" {
		if secs, err := strconv.Atoi(re.retryAfter); err == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, maxBackoff)
		}
	}
	d := min(s.backoff<<(attempt-2), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// retryableError is a transient DSS refusal with its Retry-After header.
type retryableError struct {
	err        *Error
	retryAfter string
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// parseError reads DSS's error body, whatever its shape, into an *Error.
func parseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code = cleanText(eb.Error)
		e.Description = cleanText(eb.ErrorDescription)
		if e.Description == "" {
			e.Description = cleanText(eb.Message)
		}
	}
	return e
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}
