package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/stack"
)

// profiler writes CPU profiles of each scenario's measured window into a
// directory (--profile): the bench process's own, and the gateway's over
// its /debug/pprof/profile (the gateway runs with EGISZ_HTTP_PPROF), for
// at most seconds of the window. Read them with
// `go tool pprof -top <binary> <file>`.
type profiler struct {
	dir     string
	seconds int
	log     *slog.Logger
}

// start begins the profiles of scenario name; the returned function ends
// them and waits for the gateway's, once however often it is called.
func (p *profiler) start(ctx context.Context, name string, g *stack.Gateway) (stop func()) {
	if p == nil || p.dir == "" {
		return func() {}
	}
	base := filepath.Join(p.dir, slug(name))
	own, err := os.Create(base + ".bench.pprof")
	if err == nil {
		if err = pprof.StartCPUProfile(own); err != nil {
			own.Close()
			own = nil
		}
	}
	if err != nil {
		p.log.Warn("bench profile not taken", "scenario", name, "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.fetch(ctx, g, base+".gateway.pprof"); err != nil {
			p.log.Warn("gateway profile not taken", "scenario", name, "err", err)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			if own != nil {
				pprof.StopCPUProfile()
				own.Close()
			}
			<-done
			p.log.Info("profiles written", "scenario", name, "files", base+".{bench,gateway}.pprof")
		})
	}
}

func (p *profiler) fetch(ctx context.Context, g *stack.Gateway, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", g.HTTP(), p.seconds), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// slug turns a scenario's name into a file name.
func slug(name string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, name), "-")
}
