package devpki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// TestIssuedCertificatesChain: the server certificate serves loopback and
// the hosts asked for, the client certificate authenticates a client, and
// both chain to the CA; the key files match their certificates.
func TestIssuedCertificatesChain(t *testing.T) {
	p, err := New(t.TempDir(), "gateway", "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) *x509.Certificate {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", path)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roots := x509.NewCertPool()
	roots.AddCert(read(p.CAFile))
	srv, cli := read(p.ServerCertFile), read(p.ClientCertFile)
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		host  string
		usage x509.ExtKeyUsage
		ok    bool
	}{
		{"server on 127.0.0.1", srv, "127.0.0.1", x509.ExtKeyUsageServerAuth, true},
		{"server on ::1", srv, "::1", x509.ExtKeyUsageServerAuth, true},
		{"server on localhost", srv, "localhost", x509.ExtKeyUsageServerAuth, true},
		{"server on a host asked for", srv, "gateway", x509.ExtKeyUsageServerAuth, true},
		{"server on an IP asked for", srv, "10.1.2.3", x509.ExtKeyUsageServerAuth, true},
		{"server on another host", srv, "example.org", x509.ExtKeyUsageServerAuth, false},
		{"server as a client", srv, "", x509.ExtKeyUsageClientAuth, false},
		{"client", cli, "", x509.ExtKeyUsageClientAuth, true},
		{"client as a server", cli, "", x509.ExtKeyUsageServerAuth, false},
	} {
		_, err := tc.cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
		if (err == nil) != tc.ok {
			t.Errorf("%s: verify = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	if cli.Subject.CommonName != ClientName {
		t.Errorf("client CN %q, want %q", cli.Subject.CommonName, ClientName)
	}
	for _, pair := range [][2]string{{p.ServerCertFile, p.ServerKeyFile}, {p.ClientCertFile, p.ClientKeyFile}} {
		if _, err := tls.LoadX509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("%s with %s: %v", pair[0], pair[1], err)
		}
	}
	if c := p.ClientTLS(); len(c.Certificates) != 1 || c.RootCAs == nil {
		t.Errorf("ClientTLS has %d certificates, roots %v", len(c.Certificates), c.RootCAs != nil)
	}
}
