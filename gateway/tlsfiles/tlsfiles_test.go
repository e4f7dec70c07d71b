package tlsfiles

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

func TestConfigNamesTheFileAtFault(t *testing.T) {
	pki := testtool.NewPKI(t)
	missing := pki.CAFile + ".missing"
	for _, tc := range []struct {
		name   string
		c      Client
		want   string // in the error; "" for none
		wantIs error
	}{
		{"nothing set", Client{}, "", nil},
		{"every file", Client{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, "", nil},
		{"a missing CA file", Client{CAFile: missing}, "kafka.tls.ca_file: open " + missing, fs.ErrNotExist},
		{"a key for a CA file", Client{CAFile: pki.KeyFile}, "kafka.tls.ca_file: " + pki.KeyFile + ": no PEM certificates", ErrNoCertificates},
		{"a certificate without its key", Client{CertFile: pki.CertFile}, "kafka.tls.cert_file/key_file", nil},
		{"a CA for a key", Client{CertFile: pki.CertFile, KeyFile: pki.CAFile}, "kafka.tls.cert_file/key_file", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.c.Config("kafka.tls")
			if tc.want == "" {
				if err != nil || cfg == nil || cfg.MinVersion != tls.VersionTLS12 {
					t.Fatalf("Config = %+v, %v; want TLS 1.2 at least and no error", cfg, err)
				}
				if (cfg.RootCAs != nil) != (tc.c.CAFile != "") || len(cfg.Certificates) != map[bool]int{false: 0, true: 1}[tc.c.CertFile != ""] {
					t.Errorf("Config took CAs %v and %d certificates from %+v", cfg.RootCAs != nil, len(cfg.Certificates), tc.c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Config = %v, want an error with %q", err, tc.want)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
		})
	}
}

// What the files load must be what TLS then uses: a client trusting the
// CA file reaches a server of Server's certificate and shows its own
// certificate; one trusting the system pool does not.
func TestFilesMakeAHandshake(t *testing.T) {
	pki := testtool.NewPKI(t)
	srvCfg, err := Server(pki.ServerCertFile, pki.ServerKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs, err := Pool(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg.ClientCAs, srvCfg.ClientAuth = clientCAs, tls.VerifyClientCertIfGiven
	if _, err := Server(pki.ServerCertFile, pki.CAFile); err == nil || !strings.Contains(err.Error(), "load server certificate "+pki.ServerCertFile) {
		t.Errorf("Server with a CA for its key = %v, want an error naming the certificate", err)
	}
	for _, tc := range []struct {
		name       string
		c          Client
		ok         bool
		clientCert bool
	}{
		{"CA file and client certificate", Client{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile, ServerName: "127.0.0.1"}, true, true},
		{"CA file alone", Client{CAFile: pki.CAFile, ServerName: "127.0.0.1"}, true, false},
		{"the system pool", Client{ServerName: "127.0.0.1"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cliCfg, err := tc.c.Config("test")
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			type accepted struct {
				conn *tls.Conn
				err  error
			}
			srvDone := make(chan accepted, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					srvDone <- accepted{err: err}
					return
				}
				srv := tls.Server(c, srvCfg)
				srvDone <- accepted{srv, srv.HandshakeContext(ctx)}
			}()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			err = tls.Client(raw, cliCfg).HandshakeContext(ctx)
			var unverified *tls.CertificateVerificationError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("client handshake: %v", err)
			case !tc.ok && !errors.As(err, &unverified):
				t.Fatalf("client handshake: %v, want the server's certificate unverified", err)
			case !tc.ok:
				return
			}
			got := <-srvDone
			if got.err != nil {
				t.Fatalf("server handshake: %v", got.err)
			}
			srv := got.conn
			defer srv.Close()
			if got := len(srv.ConnectionState().PeerCertificates) > 0; got != tc.clientCert {
				t.Errorf("server saw a client certificate: %v, want %v", got, tc.clientCert)
			}
		})
	}
}
