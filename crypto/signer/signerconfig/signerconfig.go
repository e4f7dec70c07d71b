// Package signerconfig is the configuration shape of the gateway's signer
// and the one constructor that turns it into a signer.Signer: an
// in-process key (kind "local") or CryptoPro DSS (kind "cryptopro-dss").
// Passwords, PINs, client secrets and tokens are never configuration
// values: the configuration names a file or an environment variable that
// holds each (secret.Source), so a logged or committed configuration
// carries none.
package signerconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/dss"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
)

// Kind names a signer implementation.
type Kind string

const (
	// KindLocal is a key in this process (dev, tests, the emulator).
	KindLocal Kind = "local"
	// KindCryptoProDSS is a key in CryptoPro DSS (production).
	KindCryptoProDSS Kind = "cryptopro-dss"
)

// Config is the signer's configuration. Its env tags name the
// environment variables of its scalar settings (after a prefix the
// embedding configuration gives, gateway/config); secrets are named by
// file or variable in YAML only.
type Config struct {
	// Kind selects the implementation; the matching section is used.
	Kind Kind `yaml:"kind" json:"kind" env:"KIND" doc:"the signer: local (a key in this process) or cryptopro-dss (production)"`
	// Local configures KindLocal.
	Local Local `yaml:"local" json:"local" envprefix:"LOCAL_"`
	// DSS configures KindCryptoProDSS.
	DSS DSS `yaml:"cryptopro_dss" json:"cryptopro_dss"`
}

// Local is an in-process key: either KeyFile and CertFile (PEM), or
// PKCS12File; Password opens the PKCS #12 file or an encrypted PEM key.
type Local struct {
	// KeyFile is a PKCS #8 PEM file (openssl genpkey), "PRIVATE KEY" or
	// "ENCRYPTED PRIVATE KEY".
	KeyFile string `yaml:"key_file" json:"key_file" env:"KEY_FILE" doc:"the local signer's PKCS #8 PEM key"`
	// CertFile is the key's certificate PEM, optionally followed by its
	// chain.
	CertFile string `yaml:"cert_file" json:"cert_file" env:"CERT_FILE" doc:"the local signer's certificate PEM, its chain after it"`
	// PKCS12File is a .p12/.pfx file holding the key and certificate.
	PKCS12File string `yaml:"pkcs12_file" json:"pkcs12_file" env:"PKCS12_FILE" doc:"the local signer's key and certificate as PKCS #12"`
	// Password is where the PKCS #12 or encrypted PEM key's password is.
	Password secret.Source `yaml:"password" json:"password"`
}

// DSS is a key held in CryptoPro DSS.
type DSS struct {
	// URL is the Signing Service's REST API root, e.g.
	// https://dss.example.ru/SignServer/rest/api.
	URL string `yaml:"url" json:"url"`
	// Token is where a ready bearer token is, when something else obtains
	// tokens; otherwise TokenURL and ClientID with ClientSecret
	// (client_credentials) or Username and Password (password grant).
	Token secret.Source `yaml:"token" json:"token"`
	// TokenURL is the identity centre's token endpoint, e.g.
	// https://dss.example.ru/STS/oauth/token.
	TokenURL string `yaml:"token_url" json:"token_url"`
	// ClientID is the OAuth client registered in DSS.
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecret is where the OAuth client's secret is.
	ClientSecret secret.Source `yaml:"client_secret" json:"client_secret"`
	// Username is the DSS user who owns the key (password grant).
	Username string `yaml:"username" json:"username"`
	// Password is where that user's password is.
	Password secret.Source `yaml:"password" json:"password"`
	// Resource is the OAuth resource; empty means DSS's usual one.
	Resource string `yaml:"resource" json:"resource"`
	// CertificateID is the key's certificate id in DSS; 0 is the user's
	// default certificate.
	CertificateID int `yaml:"certificate_id" json:"certificate_id"`
	// CertFile, when set, is the key's certificate PEM, used instead of
	// asking DSS.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	// PIN is where the key's PIN is; empty when the key has none.
	PIN secret.Source `yaml:"pin" json:"pin"`
	// TLSCAFile is a PEM bundle of the CAs that issued DSS's TLS
	// certificate, when not the system's. (ГОСТ TLS is not spoken here:
	// put a TLS-terminating proxy in front of such a DSS.)
	TLSCAFile string `yaml:"tls_ca_file" json:"tls_ca_file"`
	// RequestTimeout bounds one HTTP attempt; 0 means 10 s.
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout"`
	// MaxAttempts bounds attempts of a transiently failing request; 0
	// means 3.
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts"`
}

// Validate checks the configuration's shape without reading any file or
// secret, and reports every problem at once.
func (c Config) Validate() error {
	switch c.Kind {
	case KindLocal:
		return c.Local.validate()
	case KindCryptoProDSS:
		return c.DSS.validate()
	case "":
		return errors.New("signer: kind is not set (local or cryptopro-dss)")
	}
	return fmt.Errorf("signer: unknown kind %q (local or cryptopro-dss)", c.Kind)
}

func (l Local) validate() error {
	var errs []error
	pem := l.KeyFile != "" || l.CertFile != ""
	switch {
	case pem && l.PKCS12File != "":
		errs = append(errs, errors.New("signer.local: set key_file and cert_file, or pkcs12_file, not both"))
	case pem && (l.KeyFile == "" || l.CertFile == ""):
		errs = append(errs, errors.New("signer.local: key_file and cert_file go together"))
	case !pem && l.PKCS12File == "":
		errs = append(errs, errors.New("signer.local: set key_file and cert_file, or pkcs12_file"))
	}
	if err := l.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("signer.local.password: %w", err))
	}
	return errors.Join(errs...)
}

func (d DSS) validate() error {
	var errs []error
	if err := checkURL(d.URL); err != nil {
		errs = append(errs, fmt.Errorf("signer.cryptopro_dss.url: %w", err))
	}
	oauth := d.TokenURL != "" || d.ClientID != "" || !d.ClientSecret.IsZero() || d.Username != "" || !d.Password.IsZero()
	switch {
	case !d.Token.IsZero() && oauth:
		errs = append(errs, errors.New("signer.cryptopro_dss: set token, or OAuth (token_url, client_id, ...), not both"))
	case d.Token.IsZero():
		if err := checkURL(d.TokenURL); err != nil {
			errs = append(errs, fmt.Errorf("signer.cryptopro_dss.token_url: %w", err))
		}
		if d.ClientID == "" {
			errs = append(errs, errors.New("signer.cryptopro_dss.client_id: not set"))
		}
		if d.Username == "" && d.ClientSecret.IsZero() {
			errs = append(errs, errors.New("signer.cryptopro_dss: set client_secret (client_credentials) or username and password (password grant)"))
		}
		if (d.Username == "") != d.Password.IsZero() {
			errs = append(errs, errors.New("signer.cryptopro_dss: username and password go together"))
		}
	}
	for name, s := range map[string]secret.Source{"token": d.Token, "client_secret": d.ClientSecret, "password": d.Password, "pin": d.PIN} {
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("signer.cryptopro_dss.%s: %w", name, err))
		}
	}
	if d.CertificateID < 0 {
		errs = append(errs, errors.New("signer.cryptopro_dss.certificate_id: negative"))
	}
	if d.RequestTimeout < 0 {
		errs = append(errs, errors.New("signer.cryptopro_dss.request_timeout: negative"))
	}
	if d.MaxAttempts < 0 || d.MaxAttempts > 10 {
		errs = append(errs, errors.New("signer.cryptopro_dss.max_attempts: between 0 (default 3) and 10"))
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("not set")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// New validates cfg, reads its files and secrets, and returns the signer.
// For cryptopro-dss it contacts DSS (token and certificate), so that a
// wrong address or credential fails at start-up.
func New(ctx context.Context, cfg Config) (signer.Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case KindLocal:
		return newLocal(cfg.Local)
	case KindCryptoProDSS:
		return newDSS(ctx, cfg.DSS)
	}
	return nil, fmt.Errorf("signer: unknown kind %q", cfg.Kind)
}

func newLocal(l Local) (signer.Signer, error) {
	pw, err := l.Password.Load()
	if err != nil {
		return nil, fmt.Errorf("signer.local.password: %w", err)
	}
	if l.PKCS12File != "" {
		return local.LoadPKCS12File(l.PKCS12File, pw.Reveal())
	}
	return local.LoadPEMFiles(l.KeyFile, l.CertFile, pw.Reveal())
}

func newDSS(ctx context.Context, d DSS) (signer.Signer, error) {
	load := func(name string, s secret.Source) (secret.Value, error) {
		v, err := s.Load()
		if err != nil {
			return v, fmt.Errorf("signer.cryptopro_dss.%s: %w", name, err)
		}
		return v, nil
	}
	pin, err := load("pin", d.PIN)
	if err != nil {
		return nil, err
	}
	client := &http.Client{}
	if d.TLSCAFile != "" {
		pemData, err := os.ReadFile(d.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("signer.cryptopro_dss.tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("signer.cryptopro_dss.tls_ca_file: no certificate in %s", d.TLSCAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		client.Transport = tr
	}

	var auth dss.TokenSource
	if !d.Token.IsZero() {
		tok, err := load("token", d.Token)
		if err != nil {
			return nil, err
		}
		auth = dss.NewStaticToken(tok)
	} else {
		clientSecret, err := load("client_secret", d.ClientSecret)
		if err != nil {
			return nil, err
		}
		password, err := load("password", d.Password)
		if err != nil {
			return nil, err
		}
		timeout := d.RequestTimeout
		if timeout == 0 {
			timeout = dss.DefaultRequestTimeout
		}
		tokenClient := *client
		tokenClient.Timeout = timeout
		src, err := dss.NewOAuthSource(dss.OAuthConfig{
			TokenURL: d.TokenURL, ClientID: d.ClientID, ClientSecret: clientSecret,
			Username: d.Username, Password: password, Resource: d.Resource, HTTPClient: &tokenClient,
		})
		if err != nil {
			return nil, err
		}
		auth = src
	}

	var cert *x509.Certificate
	if d.CertFile != "" {
		pemData, err := os.ReadFile(d.CertFile)
		if err != nil {
			return nil, fmt.Errorf("signer.cryptopro_dss.cert_file: %w", err)
		}
		certs, err := gostx509.ParseCertificatesPEM(pemData)
		if err != nil {
			return nil, fmt.Errorf("signer.cryptopro_dss.cert_file: %w", err)
		}
		cert = certs[0]
	}
	return dss.New(ctx, dss.Config{
		BaseURL:        d.URL,
		Auth:           auth,
		CertificateID:  d.CertificateID,
		Certificate:    cert,
		PIN:            pin,
		HTTPClient:     client,
		RequestTimeout: d.RequestTimeout,
		MaxAttempts:    d.MaxAttempts,
	})
}
