// Command registry-emulator answers as the federal registries of ЕГИСЗ do
// (РЭМД with its asynchronous callback, ИЭМК, the prescription registry),
// with faults on request, for tests and local stacks. See package emulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
)

func main() {
	fs := flag.NewFlagSet("registry-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9480", "address to serve the registries on")
	callback := fs.String("callback", "http://127.0.0.1:9464/emdr/callback", "where РЭМД sends its results when a request names no callback_url")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *callback, log); err != nil {
		fmt.Fprintf(os.Stderr, "registry-emulator: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen, callback string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	em := emulator.New(callback, log)
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
