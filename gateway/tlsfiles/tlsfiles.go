// Package tlsfiles loads the PEM files a TLS setting names (a CA bundle, a
// certificate and its key) into the crypto/tls configuration of a client
// or a server, with TLS 1.2 at least. Each error names the setting of the
// file at fault, so an operator knows which line of the configuration to
// fix; what a server does with client certificates is its caller's policy.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificates is a CA file that holds no PEM certificate (a key, say).
var ErrNoCertificates = errors.New("no PEM certificates")

// Pool reads the PEM certificates of file into a new pool. A file that
// cannot be read is the *fs.PathError (it names the operation and the
// file); the caller says which setting it was.
func Pool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %w", file, ErrNoCertificates)
	}
	return pool, nil
}

// Client is the files of a TLS client's setting; the empty ones are not
// used.
type Client struct {
	CAFile     string // the CAs to trust; the system pool when empty
	CertFile   string // a client certificate, for mTLS, with KeyFile
	KeyFile    string
	ServerName string // the name to verify, when it is not the dialled host's
}

// Config returns the client's TLS configuration. setting names the
// configuration the files come from ("kafka.tls"): an error reads
// "kafka.tls.ca_file: ...".
func (c Client) Config(setting string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := Pool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", setting, err)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", setting, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Server returns a server's TLS configuration with the certificate of
// certFile and its key: TLS 1.2 at least, no client certificates asked
// for (the caller sets that policy, with Pool for the client CAs).
func Server(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
