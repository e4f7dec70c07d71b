// Package devpki issues a throwaway PKI at run time, for `egisz-gateway
// dev` and the local stacks of the benchmarks and the reliability suite:
// a CA, a server certificate for the loopback addresses and a client
// certificate, so that an mTLS endpoint (РЭМД's callback) works there with
// nothing to set up. Its keys live in memory and in a directory the
// caller removes; nothing here is fit for production.
package devpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ClientName is the common name of the client certificate.
const ClientName = "egisz-dev-registry"

// PKI is the issued certificates, as PEM files in Dir.
type PKI struct {
	Dir string
	// CAFile is the CA both certificates chain to: the server's client CA
	// and the client's trusted root.
	CAFile string
	// ServerCertFile and ServerKeyFile serve 127.0.0.1, ::1, localhost
	// and the hosts given to New.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile authenticate the client (ClientName).
	ClientCertFile, ClientKeyFile string
	// Signing is the PKI of the messages' signatures, when the caller
	// issued one beside (NewSigning): the local stacks carry both to the
	// gateway they start.
	Signing *Signing

	client tls.Certificate
	roots  *x509.CertPool
}

// validity is how long the certificates are valid: a dev stack runs for
// hours, and the clocks of one machine agree.
const validity = 30 * 24 * time.Hour

// New issues the certificates into dir, which must exist. The server
// certificate names the loopback addresses and hosts (names or IPs).
func New(dir string, hosts ...string) (*PKI, error) {
	ips, names := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			names = append(names, h)
		}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "egisz-gateway dev CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("dev CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("dev CA certificate: %w", err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		return der, key, err
	}
	srvDER, srvKey, err := issue(2, "egisz-gateway dev", x509.ExtKeyUsageServerAuth, ips, names)
	if err != nil {
		return nil, fmt.Errorf("dev server certificate: %w", err)
	}
	cliDER, cliKey, err := issue(3, ClientName, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("dev client certificate: %w", err)
	}
	p := &PKI{Dir: dir, roots: x509.NewCertPool(),
		client: tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}}
	p.roots.AddCert(ca)
	for _, f := range []struct {
		path *string
		name string
		typ  string
		der  func() ([]byte, error)
	}{
		{&p.CAFile, "ca.pem", "CERTIFICATE", func() ([]byte, error) { return caDER, nil }},
		{&p.ServerCertFile, "server.pem", "CERTIFICATE", func() ([]byte, error) { return srvDER, nil }},
		{&p.ServerKeyFile, "server.key", "EC PRIVATE KEY", func() ([]byte, error) { return x509.MarshalECPrivateKey(srvKey) }},
		{&p.ClientCertFile, "client.pem", "CERTIFICATE", func() ([]byte, error) { return cliDER, nil }},
		{&p.ClientKeyFile, "client.key", "EC PRIVATE KEY", func() ([]byte, error) { return x509.MarshalECPrivateKey(cliKey) }},
	} {
		der, err := f.der()
		if err != nil {
			return nil, fmt.Errorf("dev PKI %s: %w", f.name, err)
		}
		*f.path = filepath.Join(dir, f.name)
		if err := os.WriteFile(*f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("dev PKI: %w", err)
		}
	}
	return p, nil
}

// ClientTLS is the client's side: its certificate, and the CA as the
// only root, so it reaches the server and nothing else.
func (p *PKI) ClientTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.client}, RootCAs: p.roots, MinVersion: tls.VersionTLS12}
}
