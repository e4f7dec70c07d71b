// Package stack runs the gateway as it runs in production, a separate
// process of the binary built from this tree against a Kafka cluster, with
// the registry emulator on a loopback HTTP server and load generator
// traffic tracked to its outcomes. The benchmarks (cmd/bench) and the
// reliability suite (internal/reliability) both drive it.
package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
)

// Build compiles the gateway's main package at pkgDir (cmd/egisz-gateway
// of this tree, relative to the caller's directory) into dir and returns
// the binary's path.
func Build(ctx context.Context, pkgDir, dir string) (string, error) {
	bin := filepath.Join(dir, "egisz-gateway")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = pkgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkgDir, err, out)
	}
	return bin, nil
}

// GatewayConfig is one gateway instance.
type GatewayConfig struct {
	Bin      string
	Brokers  []string
	Prefix   string // topic prefix of the deployment
	Instance string // EGISZ_INSTANCE_ID: names its transactional ids
	// HTTP is the listen address of /readyz and /metrics; a free loopback
	// port when empty, kept across restarts.
	HTTP string
	// RegistryURL points РЭМД, ИЭМК and the prescription registry at the
	// emulator; empty runs the gateway without registries.
	RegistryURL string
	// CallbackPKI is the mTLS of РЭМД's callback endpoint (the emulator's,
	// Emulator.PKI); required with RegistryURL.
	CallbackPKI *devpki.PKI
	// Callback is the listen address of РЭМД's callback endpoint; a free
	// loopback port when empty. It is kept across restarts, so РЭМД's
	// callbacks find a restarted instance.
	Callback string
	// Replication of the topics the gateway creates (1 on a single broker).
	Replication int
	// TrustRoots is the PEM file of the CAs documents' signatures must
	// chain to (normalize.documents.trust_roots). Empty: the committed
	// test CA (internal/testpki), under which the load generator signs,
	// written beside Bin.
	TrustRoots string
	// Env is added last, so it overrides the defaults set here.
	Env []string
	// Log receives the process's stderr; discarded when nil.
	Log io.Writer
}

// Gateway is a running `egisz-gateway run` process, restartable.
type Gateway struct {
	cfg GatewayConfig

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartGateway starts an instance and waits until it is ready.
func StartGateway(ctx context.Context, cfg GatewayConfig, within time.Duration) (*Gateway, error) {
	if cfg.HTTP == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		cfg.HTTP = addr
	}
	if cfg.Replication == 0 {
		cfg.Replication = 1
	}
	if cfg.RegistryURL != "" {
		if cfg.CallbackPKI == nil || cfg.CallbackPKI.Signing == nil {
			return nil, errors.New("stack: a gateway forwarding to the emulator needs its CallbackPKI (Emulator.PKI) for РЭМД's mTLS callback and signed messages")
		}
		if cfg.Callback == "" {
			addr, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			cfg.Callback = addr
		}
	}
	if cfg.TrustRoots == "" {
		pem, err := testpki.CAPEM()
		if err != nil {
			return nil, err
		}
		cfg.TrustRoots = filepath.Join(filepath.Dir(cfg.Bin), "test-ca.pem")
		if err := os.WriteFile(cfg.TrustRoots, pem, 0o644); err != nil {
			return nil, fmt.Errorf("stack: write the test CA: %w", err)
		}
	}
	g := &Gateway{cfg: cfg}
	if err := g.Start(ctx, within); err != nil {
		return nil, err
	}
	return g, nil
}

// Prefix is the deployment's topic prefix.
func (g *Gateway) Prefix() string { return g.cfg.Prefix }

// HTTP is the instance's listen address.
func (g *Gateway) HTTP() string { return g.cfg.HTTP }

func (g *Gateway) env() []string {
	c := g.cfg
	env := append(os.Environ(),
		"EGISZ_KAFKA_BROKERS="+strings.Join(c.Brokers, ","), "EGISZ_TOPIC_PREFIX="+c.Prefix,
		"EGISZ_INSTANCE_ID="+c.Instance, "EGISZ_HTTP_LISTEN="+c.HTTP, "EGISZ_LOG_LEVEL=warn",
		"EGISZ_KAFKA_REPLICATION_FACTOR="+strconv.Itoa(c.Replication),
		"EGISZ_NORMALIZE_DOCUMENTS_TRUST_ROOTS="+c.TrustRoots,
		// A document whose callback is lost is looked up after 30 s, not 10 min.
		"EGISZ_REMD_RECONCILE_AFTER=30s")
	if c.RegistryURL != "" {
		for _, r := range []string{"REMD", "IEMK", "ERX"} {
			url := c.RegistryURL
			if r == "REMD" {
				url += emulator.REMDPath // РЭМД's SOAP endpoint, as ИПС serves it
			}
			env = append(env, "EGISZ_FORWARD_"+r+"_URL="+url, "EGISZ_FORWARD_"+r+"_CONCURRENCY=256",
				"EGISZ_FORWARD_"+r+"_BACKOFF_MIN=50ms", "EGISZ_FORWARD_"+r+"_BREAKER_OPEN=2s")
		}
		sg := c.CallbackPKI.Signing
		env = append(env, "EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID="+devpki.DevClientEntityID,
			"EGISZ_FORWARD_REMD_IPS_SIGNER_KIND=local", "EGISZ_FORWARD_REMD_IPS_SIGNER_LOCAL_KEY_FILE="+sg.GatewayKeyFile,
			"EGISZ_FORWARD_REMD_IPS_SIGNER_LOCAL_CERT_FILE="+sg.GatewayCertFile, "EGISZ_FORWARD_REMD_IPS_INBOUND_TRUST="+sg.RegistryCertFile)
		env = append(env, "EGISZ_REMD_CALLBACK_LISTEN="+c.Callback,
			"EGISZ_REMD_CALLBACK_TLS_CERT_FILE="+c.CallbackPKI.ServerCertFile, "EGISZ_REMD_CALLBACK_TLS_KEY_FILE="+c.CallbackPKI.ServerKeyFile,
			"EGISZ_REMD_CALLBACK_TLS_CLIENT_CA_FILE="+c.CallbackPKI.CAFile)
	}
	return append(env, c.Env...)
}

// Start starts the process (again, after Kill or Stop) and waits until
// /readyz answers 200.
func (g *Gateway) Start(ctx context.Context, within time.Duration) error {
	cmd := exec.Command(g.cfg.Bin, "run")
	cmd.Env = g.env()
	cmd.Stderr = g.cfg.Log
	// The gateway dies with the process that started it, so no test or
	// benchmark leaves one behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gateway %s: %w", g.cfg.Instance, err)
	}
	done := make(chan struct{})
	g.mu.Lock()
	g.cmd, g.done, g.err = cmd, done, nil
	g.mu.Unlock()
	go func() {
		err := cmd.Wait()
		g.mu.Lock()
		g.err = err
		g.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		if Ready(ctx, g.cfg.HTTP) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("gateway %s exited while starting: %v", g.cfg.Instance, g.exitErr())
		case <-ctx.Done():
			g.Kill()
			return fmt.Errorf("gateway %s not ready within %s", g.cfg.Instance, within)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (g *Gateway) exitErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Ready reports whether the instance at addr answers /readyz with 200.
func Ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Running reports whether the process is alive.
func (g *Gateway) Running() bool {
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits until it is gone.
func (g *Gateway) Kill() {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Dump ends the process with SIGQUIT, on which the Go runtime writes
// every goroutine's stack to its log: what a stuck instance was doing.
func (g *Gateway) Dump() {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop asks the process to stop (SIGINT) and kills it after 20 s.
func (g *Gateway) Stop() {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (g *Gateway) pid() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return 0
	}
	return g.cmd.Process.Pid
}

// CPU is the process's user and system CPU so far.
func (g *Gateway) CPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.pid()))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// RSS returns the resident set and its peak, MiB.
func (g *Gateway) RSS() (now, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", g.pid()))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			now = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return now, peak
}

// FreeAddr returns a loopback address with a port free at the moment.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
