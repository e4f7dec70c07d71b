package kafkaclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files.
type pki struct {
	caFile, certFile, keyFile string
	server                    *tls.Config
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "egisz test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "egisz"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		caFile:   writePEM("ca.pem", "CERTIFICATE", caDER),
		certFile: writePEM("client.pem", "CERTIFICATE", cliDER),
		keyFile:  writePEM("client.key", "EC PRIVATE KEY", cliKeyDER),
		server: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
			ClientCAs:    pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		},
	}
}

func TestTLSAndSASLReachTheCluster(t *testing.T) {
	p := newPKI(t)
	secret := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(p.server), kfake.EnableSASL(), kfake.Superuser(mech, "egisz-gateway", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			good := config.Default().Kafka
			good.Brokers = cluster.ListenAddrs()
			good.DialTimeout = config.Duration(3 * time.Second)
			good.TLS = config.TLS{Enabled: true, CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}
			good.SASL = config.SASL{Mechanism: mech, Username: "egisz-gateway", PasswordFile: secret}

			wrongPassword := good
			wrongPassword.SASL.PasswordFile, wrongPassword.SASL.Password = "", "guess"
			noClientCert := good
			noClientCert.TLS.CertFile, noClientCert.TLS.KeyFile = "", ""
			plaintext := good
			plaintext.TLS = config.TLS{}

			for _, tc := range []struct {
				name string
				cfg  config.Kafka
				ok   bool
			}{
				{"mTLS and the password file", good, true},
				{"wrong password", wrongPassword, false},
				{"no client certificate", noClientCert, false},
				{"no TLS", plaintext, false},
			} {
				opts, err := Options(tc.cfg)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0))...)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				err = Ping(context.Background(), tc.cfg, cl, 3*time.Second)
				cl.Close()
				if (err == nil) != tc.ok {
					t.Errorf("%s: Ping = %v, want ok=%v", tc.name, err, tc.ok)
				}
				var unreachable *UnreachableError
				if err != nil && !errors.As(err, &unreachable) {
					t.Errorf("%s: %v is not an UnreachableError", tc.name, err)
				}
			}
		})
	}
}

func TestOptionsNameTheFileAtFault(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Kafka
		want string
	}{
		{config.Kafka{TLS: config.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "kafka.tls.ca_file"},
		{config.Kafka{TLS: config.TLS{Enabled: true, CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}, "kafka.tls.cert_file"},
		{config.Kafka{SASL: config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: "/nonexistent/pw"}}, "kafka.sasl.password_file"},
	} {
		_, err := Options(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Options(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}
