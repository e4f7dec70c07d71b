// Command registry-emulator answers as the federal registries of ЕГИСЗ do
// (РЭМД over signed SOAP with getDocumentFile and its signed result, ИЭМК,
// the prescription registry), with faults on request, for tests and local
// stacks. See package emulator.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
)

func main() {
	fs := flag.NewFlagSet("registry-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9480", "address to serve the registries on")
	callback := fs.String("callback", "https://127.0.0.1:9466/emdr/callback", "where РЭМД sends getDocumentFile and its results when a request's ReplyTo is absent or anonymous")
	pkiDir := fs.String("callback-pki", "", "issue a throwaway PKI into this directory (ca.pem, server.pem, server.key for the gateway's forward.remd_callback.tls) and call back with its client certificate; the server certificate names loopback and the host of --callback")
	remdPKI := fs.String("remd-pki", "", "issue a throwaway ГОСТ PKI into this directory for РЭМД's message signatures: ca.pem (the CA РЭМД trusts and the gateway trusts for РЭМД's messages), signer.pem and signer.key.pem (РЭМД's key), gateway.pem and gateway.key.pem (a key for the gateway to sign with)")
	signerKey := fs.String("signer-key", "", "PEM key РЭМД signs its messages with (with --signer-cert and --trust, instead of --remd-pki)")
	signerCert := fs.String("signer-cert", "", "PEM certificate (and chain) of --signer-key")
	trustFile := fs.String("trust", "", "PEM bundle of the CA certificates РЭМД trusts for the gateway's messages")
	faultsFile := fs.String("faults", "", `JSON file of faults per registry, e.g. {"remd":{"rate_503":0.3,"latency_min":5000000}}; change them later with PUT /admin/faults/{registry}`)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	faults, err := readFaults(*faultsFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "registry-emulator: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var callbackTLS *tls.Config
	if *pkiDir != "" {
		u, err := url.Parse(*callback)
		if err != nil {
			fmt.Fprintf(os.Stderr, "registry-emulator: --callback: %v\n", err)
			os.Exit(2)
		}
		pki, err := devpki.New(*pkiDir, u.Hostname())
		if err != nil {
			fmt.Fprintf(os.Stderr, "registry-emulator: %v\n", err)
			os.Exit(1)
		}
		callbackTLS = pki.ClientTLS()
		log.Info("callback PKI issued; configure the gateway's forward.remd_callback.tls with it", "cert_file", pki.ServerCertFile, "key_file", pki.ServerKeyFile, "client_ca_file", pki.CAFile)
	}
	sec, err := remdSecurity(ctx, *remdPKI, *signerKey, *signerCert, *trustFile, time.Now())
	if err != nil {
		fmt.Fprintf(os.Stderr, "registry-emulator: %v\n", err)
		os.Exit(2)
	}
	if *remdPKI != "" {
		log.Info("РЭМД message PKI issued; configure the gateway to sign with gateway.pem/gateway.key.pem and to trust ca.pem for РЭМД's messages", "dir", *remdPKI)
	}
	cfg := emulator.Config{Callback: *callback, Log: log, CallbackTLS: callbackTLS, Signer: sec.signer, Trust: sec.trust}
	if err := run(ctx, *listen, cfg, faults); err != nil {
		fmt.Fprintf(os.Stderr, "registry-emulator: %v\n", err)
		os.Exit(1)
	}
}

// readFaults reads the faults file: registry name to emulator.Faults.
func readFaults(path string) (map[string]emulator.Faults, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	var f map[string]emulator.Faults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("faults %s: %w", path, err)
	}
	for reg := range f {
		if reg != emulator.REMD && reg != emulator.IEMK && reg != emulator.ERX {
			return nil, fmt.Errorf("faults %s: unknown registry %q (remd, iemk, erx)", path, reg)
		}
	}
	return f, nil
}

func run(ctx context.Context, listen string, cfg emulator.Config, faults map[string]emulator.Faults) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	em := emulator.NewFromConfig(cfg)
	for reg, f := range faults {
		em.SetFaults(reg, f)
	}
	srv := &http.Server{Handler: em.Handler(), ReadHeaderTimeout: 5 * time.Second}
	cfg.Log.Info("registry emulator listening", "addr", ln.Addr().String(), "remd_path", emulator.REMDPath, "remd_callback", cfg.Callback)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	em.Close()
	return err
}

// security is РЭМД's message signer and its trust in the gateway's.
type security struct {
	signer signer.Signer
	trust  func(*x509.Certificate) error
}

// remdSecurity makes РЭМД's signer and trust: a throwaway PKI issued into
// pkiDir, or the key, certificate and trusted CAs given as files. With
// neither, РЭМД refuses every message (the REST registries still work).
func remdSecurity(ctx context.Context, pkiDir, keyFile, certFile, trustFile string, now time.Time) (security, error) {
	files := keyFile != "" || certFile != "" || trustFile != ""
	switch {
	case pkiDir != "" && files:
		return security{}, errors.New("--remd-pki and --signer-key/--signer-cert/--trust exclude each other")
	case pkiDir != "":
		return issueREMDPKI(ctx, pkiDir, now)
	case !files:
		return security{}, nil
	case keyFile == "" || certFile == "" || trustFile == "":
		return security{}, errors.New("--signer-key, --signer-cert and --trust go together")
	}
	s, err := local.LoadPEMFiles(keyFile, certFile, "")
	if err != nil {
		return security{}, fmt.Errorf("РЭМД's signer: %w", err)
	}
	b, err := os.ReadFile(trustFile)
	if err != nil {
		return security{}, fmt.Errorf("--trust: %w", err)
	}
	roots, err := gostx509.ParseCertificatesPEM(b)
	if err != nil {
		return security{}, fmt.Errorf("--trust %s: %w", trustFile, err)
	}
	trust, err := trustRoots(roots)
	if err != nil {
		return security{}, err
	}
	return security{signer: s, trust: trust}, nil
}

// issueREMDPKI issues a ГОСТ CA, РЭМД's key and a key for the gateway into
// dir, and trusts that CA.
func issueREMDPKI(ctx context.Context, dir string, now time.Time) (security, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return security{}, fmt.Errorf("--remd-pki: %w", err)
	}
	pki, err := local.GenerateDevPKI(ctx, signer.GOST2012_256, now, 365*24*time.Hour)
	if err != nil {
		return security{}, err
	}
	if err := pki.WriteFiles(dir); err != nil {
		return security{}, err
	}
	key, cert, err := pki.Authority.IssueKey(ctx, signer.GOST2012_256, gostx509.SigningTemplate(
		gostx509.Subject{CommonName: "egisz-gateway", Organization: "egisz-gateway dev", Country: "RU"}, now.Add(-time.Hour), now.Add(365*24*time.Hour)))
	if err != nil {
		return security{}, fmt.Errorf("issue the gateway's key: %w", err)
	}
	keyPEM, err := gostx509.MarshalPrivateKeyPEM(key)
	if err != nil {
		return security{}, fmt.Errorf("the gateway's key: %w", err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Authority.Certificate.Raw})...)
	if err := os.WriteFile(filepath.Join(dir, "gateway.pem"), chain, 0o644); err != nil {
		return security{}, fmt.Errorf("--remd-pki: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gateway.key.pem"), keyPEM, 0o600); err != nil {
		return security{}, fmt.Errorf("--remd-pki: %w", err)
	}
	trust, err := trustRoots([]*x509.Certificate{pki.Authority.Certificate})
	if err != nil {
		return security{}, err
	}
	return security{signer: pki.Leaf, trust: trust}, nil
}

// trustRoots trusts certificates that chain to roots and may sign.
func trustRoots(roots []*x509.Certificate) (func(*x509.Certificate) error, error) {
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: roots})
	if err != nil {
		return nil, fmt.Errorf("trusted CAs: %w", err)
	}
	return func(c *x509.Certificate) error {
		_, err := v.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
		return err
	}, nil
}
