package dss

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

// TokenSource gives the bearer token DSS requests carry.
type TokenSource interface {
	// Token returns a currently valid access token.
	Token(ctx context.Context) (secret.Value, error)
	// Invalidate tells the source that DSS refused tok, so that the next
	// Token fetches a fresh one if it can.
	Invalidate(tok secret.Value)
}

// StaticToken is a TokenSource of one configured token, for deployments
// where something else obtains and rotates it (the token file is re-read
// by whoever builds the signer). It cannot refresh: a refused token is an
// ErrAuth.
type StaticToken struct {
	token secret.Value
}

// NewStaticToken returns a TokenSource that always gives tok.
func NewStaticToken(tok secret.Value) *StaticToken { return &StaticToken{token: tok} }

// Token returns the configured token.
func (s *StaticToken) Token(context.Context) (secret.Value, error) {
	if s.token.IsZero() {
		return secret.Value{}, fmt.Errorf("%w: empty static token", ErrAuth)
	}
	return s.token, nil
}

// Invalidate does nothing: there is no other token to get.
func (s *StaticToken) Invalidate(secret.Value) {}

// OAuthConfig configures an OAuthSource.
type OAuthConfig struct {
	// TokenURL is the identity centre's token endpoint, e.g.
	// https://dss.example.ru/STS/oauth/token.
	TokenURL string
	// ClientID is the OAuth client registered in DSS.
	ClientID string
	// ClientSecret, when set without Username, selects the
	// client_credentials grant.
	ClientSecret secret.Value
	// Username and Password, when set, select the password grant (the DSS
	// user who owns the key).
	Username string
	Password secret.Value
	// Resource is the OAuth resource of the Signing Service; empty means
	// the default in guesses.go.
	Resource string
	// HTTPClient makes the requests; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// OAuthSource gets tokens from DSS's identity centre and caches each until
// shortly before it expires. It is safe for concurrent use.
type OAuthSource struct {
	cfg OAuthConfig

	mu      sync.Mutex
	token   secret.Value
	expires time.Time
}

// NewOAuthSource checks cfg and returns a source. It makes no request.
func NewOAuthSource(cfg OAuthConfig) (*OAuthSource, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("dss: token URL %q is not an http(s) URL", cfg.TokenURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("dss: OAuth client id is empty")
	}
	if cfg.Username == "" && cfg.ClientSecret.IsZero() {
		return nil, errors.New("dss: OAuth needs a client secret (client_credentials) or a username and password (password grant)")
	}
	if cfg.Username != "" && cfg.Password.IsZero() {
		return nil, errors.New("dss: OAuth username given without a password")
	}
	if cfg.Resource == "" {
		cfg.Resource = defaultResource
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OAuthSource{cfg: cfg}, nil
}

// Token returns the cached token or fetches a new one.
func (o *OAuthSource) Token(ctx context.Context) (secret.Value, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.token.IsZero() && o.cfg.Now().Before(o.expires) {
		return o.token, nil
	}
	tok, ttl, err := o.fetch(ctx)
	if err != nil {
		return secret.Value{}, err
	}
	// Refresh a little early (a tenth of the lifetime, at most 30 s) so
	// that a token does not expire between Token and DSS checking it.
	margin := min(ttl/10, 30*time.Second)
	o.token, o.expires = tok, o.cfg.Now().Add(ttl-margin)
	return tok, nil
}

// Invalidate drops tok if it is the cached token.
func (o *OAuthSource) Invalidate(tok secret.Value) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token.Reveal() == tok.Reveal() {
		o.token = secret.Value{}
	}
}

func (o *OAuthSource) fetch(ctx context.Context) (secret.Value, time.Duration, error) {
	form := url.Values{}
	form.Set(formClientID, o.cfg.ClientID)
	form.Set(formResource, o.cfg.Resource)
	if o.cfg.Username != "" {
		form.Set(formGrantType, grantPassword)
		form.Set(formUsername, o.cfg.Username)
		form.Set(formPassword, o.cfg.Password.Reveal())
	} else {
		form.Set(formGrantType, grantClientCreds)
	}
	if !o.cfg.ClientSecret.IsZero() {
		form.Set(formClientSecret, o.cfg.ClientSecret.Reveal())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return secret.Value{}, 0, fmt.Errorf("dss: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		// url.Error names the URL, which holds no secret: the form is in
		// the body.
		return secret.Value{}, 0, fmt.Errorf("%w: token request: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return secret.Value{}, 0, fmt.Errorf("%w: read token response: %w", ErrTransport, err)
	}
	if resp.StatusCode != http.StatusOK {
		dssErr := parseError(resp.StatusCode, body)
		if dssErr.Temporary() {
			return secret.Value{}, 0, fmt.Errorf("token request: %w", dssErr)
		}
		// RFC 6749 §5.2: 400 invalid_grant / invalid_client, 401.
		return secret.Value{}, 0, fmt.Errorf("%w: identity centre refused the credentials: %w", ErrAuth, dssErr)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return secret.Value{}, 0, fmt.Errorf("%w: token response without access_token", ErrMalformedResponse)
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, tokenTypeBearer) {
		return secret.Value{}, 0, fmt.Errorf("%w: token type %q, want bearer", ErrMalformedResponse, cleanText(tr.TokenType))
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if tr.ExpiresIn <= 0 {
		ttl = defaultTokenExpiry * time.Second
	}
	return secret.New(tr.AccessToken), ttl, nil
}
