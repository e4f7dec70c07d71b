// Command registry-emulator answers as the federal registries of ЕГИСЗ do
// (РЭМД with its asynchronous callback, ИЭМК, the prescription registry),
// with faults on request, for tests and local stacks. See package emulator.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
)

func main() {
	fs := flag.NewFlagSet("registry-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9480", "address to serve the registries on")
	callback := fs.String("callback", "https://127.0.0.1:9466/emdr/callback", "where РЭМД sends its results when a request names no callback_url")
	pkiDir := fs.String("callback-pki", "", "issue a throwaway PKI into this directory (ca.pem, server.pem, server.key for the gateway's forward.remd_callback.tls) and call back with its client certificate; the server certificate names loopback and the host of --callback")
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
	if err := run(ctx, *listen, *callback, callbackTLS, faults, log); err != nil {
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

func run(ctx context.Context, listen, callback string, callbackTLS *tls.Config, faults map[string]emulator.Faults, log *slog.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	em := emulator.New(callback, log)
	if callbackTLS != nil {
		em.WithCallbackTLS(callbackTLS)
	}
	for reg, f := range faults {
		em.SetFaults(reg, f)
	}
	srv := &http.Server{Handler: em.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Info("registry emulator listening", "addr", ln.Addr().String(), "remd_callback", callback)
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
