package stack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
)

// Registries are the registries the emulator plays.
var Registries = []string{emulator.REMD, emulator.IEMK, emulator.ERX}

// Emulator is the registry emulator on a loopback HTTP server.
type Emulator struct {
	*emulator.Emulator
	URL string
	// PKI is the callback's throwaway PKI: the emulator's РЭМД callbacks
	// authenticate with its client certificate, and a gateway forwarding
	// to the emulator serves its server certificate (GatewayConfig.CallbackPKI);
	// its Signing signs РЭМД's messages both ways (the gateway's key and
	// the emulator's).
	PKI *devpki.PKI
	srv *http.Server
}

// StartEmulator serves the emulator on a free loopback port.
func StartEmulator() (*Emulator, error) {
	dir, err := os.MkdirTemp("", "egisz-stack-pki-")
	if err != nil {
		return nil, fmt.Errorf("registry emulator: %w", err)
	}
	pki, err := devpki.New(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry emulator: %w", err)
	}
	signingDir := filepath.Join(dir, "signing")
	if err := os.Mkdir(signingDir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry emulator: %w", err)
	}
	if pki.Signing, err = devpki.NewSigning(context.Background(), signingDir, time.Now()); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry emulator: %w", err)
	}
	e := emulator.NewFromConfig(emulator.Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CallbackTLS: pki.ClientTLS(),
		Signer: pki.Signing.Registry, Trust: pki.Signing.Trust})
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Emulator{Emulator: e, URL: "http://" + ln.Addr().String(), PKI: pki, srv: srv}, nil
}

// SetAll sets the same faults on every registry.
func (e *Emulator) SetAll(f emulator.Faults) {
	for _, r := range Registries {
		e.SetFaults(r, f)
	}
}

// Close stops the server and the emulator's pending callbacks.
func (e *Emulator) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	e.Emulator.Close()
	_ = os.RemoveAll(e.PKI.Dir)
}
