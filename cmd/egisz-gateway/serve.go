package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/devbroker"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// loadConfig reads --config (or EGISZ_CONFIG) and the environment; a
// mistake is printed with the key at fault.
func loadConfig(path string, getenv env, stderr io.Writer) (config.Config, bool) {
	if path == "" {
		path = getenv(envConfig)
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return cfg, false
	}
	return cfg, true
}

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "YAML configuration file (also $"+envConfig+"); environment variables override it")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("run [flags]", "Runs the gateway against the Kafka cluster of the configuration (kafka.brokers, TLS, SASL).\nEnvironment variables override the file: see README.md for the list.", stdout, stderr)
	cfgPath := configFlag(fs)
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, getenv, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	return serve(ctx, cfg, log, stderr)
}

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("dev [flags]", "Runs the whole gateway in one process on an embedded Kafka-protocol broker: nothing to install.\n"+
		"With --kafka=apache it runs the same stack on a real Apache Kafka broker instead (Java 17 and Maven), which survives a crash.\n"+
		"Publish to it with kcat -b 127.0.0.1:9092; watch it on http://127.0.0.1:9464/metrics.", stdout, stderr)
	cfgPath := configFlag(fs)
	kafka := fs.String("kafka", "", "the broker: embedded (in the process, nothing to install; --data-dir survives a clean stop, not a crash) or apache (Apache Kafka as the tests run it: needs Java 17, and Maven the first time; crash-safe) (default embedded)")
	broker := fs.String("broker", "", "where the broker listens (default 127.0.0.1:9092; loopback only)")
	dataDir := fs.String("data-dir", "", "keep the broker's data in this directory across restarts (default: gone when dev stops); see README for what survives a crash")
	httpAddr := fs.String("http", "", "address of /healthz, /readyz and /metrics (default 127.0.0.1:9464)")
	emulatorAddr := fs.String("emulator", "", "where the registry emulator listens (default 127.0.0.1:9480)")
	callbackAddr := fs.String("callback", "", "where РЭМД's callback endpoint listens (default: a free loopback port, with a throwaway PKI)")
	demo := fs.Bool("demo", false, "feed the stack a trickle of generated traffic (cases, documents, prescriptions… with duplicates and refusals) and log what it got")
	demoRate := fs.Float64("demo-rate", 5, "events a second of --demo")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if *emulatorAddr != "" {
		cfg.Dev.EmulatorListen = *emulatorAddr
	}
	if *broker != "" {
		cfg.Dev.BrokerListen = *broker
	}
	if *dataDir != "" {
		cfg.Dev.DataDir = *dataDir
	}
	if *kafka != "" {
		cfg.Dev.Kafka = *kafka
	}
	kind, err := devbroker.ParseKind(cfg.Dev.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: --kafka: %v\n", err)
		return exitUsage
	}
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	kb, err := devbroker.Start(ctx, devbroker.Options{Kind: kind, Addr: cfg.Dev.BrokerListen, DataDir: cfg.Dev.DataDir,
		LookPath: lookPathIn(getenv), Log: log, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return devBrokerExit(err)
	}
	defer func() {
		start := time.Now()
		kb.Close()
		log.Info("dev broker stopped", "kafka", kb.Kind(), "took", time.Since(start).Round(time.Millisecond))
	}()
	cfg.Kafka.Brokers = kb.Addrs()
	cfg.Kafka.ReplicationFactor = 1
	cfg.Kafka.TLS = config.TLS{}
	cfg.Kafka.SASL = config.SASL{}
	if err := seedReferenceFeeds(ctx, cfg.Kafka.Brokers, log); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
	trustDir, err := os.MkdirTemp("", "egisz-dev-trust-")
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: dev: %v\n", err)
		return exitFailed
	}
	defer os.RemoveAll(trustDir)
	if err := devTrustTestCA(&cfg.Normalize.Documents, trustDir, log); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
	// РЭМД's callback takes only callers with a client certificate: dev
	// issues a throwaway PKI for it and the embedded emulator, unless the
	// configuration brings its own.
	var callbackTLS *tls.Config
	if cfg.Forward.REMD.URL == "" && cfg.Forward.Callback.TLS.ClientCAFile == "" {
		dir, err := os.MkdirTemp("", "egisz-dev-pki-")
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: dev PKI: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(dir)
		pki, err := devpki.New(dir)
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
			return exitFailed
		}
		cb := &cfg.Forward.Callback
		cb.TLS = config.CallbackTLS{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile, ClientNames: []string{devpki.ClientName}}
		if *callbackAddr != "" {
			cb.Listen = *callbackAddr
		} else {
			// Only the embedded emulator holds the client certificate, and
			// it is told the address: any free port does.
			cb.Listen = "127.0.0.1:0"
		}
		cb.URL = ""
		callbackTLS = pki.ClientTLS()
		log.Info("dev: РЭМД's callback is served over mTLS with a throwaway PKI; the embedded emulator holds its client certificate", "dir", dir)
	} else if *callbackAddr != "" {
		cfg.Forward.Callback.Listen = *callbackAddr
	}
	// РЭМД's messages are signed both ways: dev issues a throwaway ГОСТ
	// PKI, signs as the gateway with one key and as the emulator's РЭМД
	// with another, each trusting the other's, unless the configuration
	// points РЭМД elsewhere or brings its own signer.
	var signing *devpki.Signing
	if ips := &cfg.Forward.REMD.IPS; cfg.Forward.REMD.URL == "" && ips.Signer.Kind == "" {
		dir, err := os.MkdirTemp("", "egisz-dev-signing-")
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: dev signing PKI: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(dir)
		if signing, err = devpki.NewSigning(ctx, dir, time.Now()); err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
			return exitFailed
		}
		if ips.ClientEntityID == "" {
			ips.ClientEntityID = devpki.DevClientEntityID
		}
		ips.Signer = signerconfig.Config{Kind: signerconfig.KindLocal, Local: signerconfig.Local{KeyFile: signing.GatewayKeyFile, CertFile: signing.GatewayCertFile}}
		ips.InboundTrust = []string{signing.RegistryCertFile}
		log.Info("dev: РЭМД's messages are signed with a throwaway ГОСТ PKI, the gateway's key and the emulator's under one test CA", "dir", dir)
	}
	emu, err := startEmulator(cfg.Dev.EmulatorListen, callbackTLS, signing, log)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	}
	defer emu.stop()
	for _, r := range cfg.Forward.Registries() {
		if r.Dest.URL == "" {
			r.Dest.URL = emu.url
			if r.Name == topics.RegistryREMD {
				r.Dest.URL += emulator.REMDPath // РЭМД's SOAP endpoint, as ИПС serves it
			}
		}
	}
	log.Info("dev stack: publish with kcat", "example", "kcat -b "+cfg.Kafka.Brokers[0]+" -L")
	if *demo {
		if *demoRate <= 0 {
			fmt.Fprintln(stderr, "egisz-gateway: --demo-rate must be positive")
			return exitUsage
		}
		dctx, stopDemo := context.WithCancel(ctx)
		defer stopDemo()
		go runDemo(dctx, cfg.Kafka.Brokers, cfg.HTTP.Listen, *demoRate, log)
	}
	return serve(ctx, cfg, log, stderr)
}

// devBrokerExit is the exit code for a dev broker that did not start: 2
// when the command line, the configuration or the machine is at fault (a
// bad address, a data dir of the other broker, Java missing), 1 when
// starting failed on the way (Maven could not fetch the release, the broker
// exited).
func devBrokerExit(err error) int {
	var missing *devbroker.MissingToolsError
	var dir *devbroker.DataDirError
	if errors.As(err, &missing) || errors.As(err, &dir) || errors.Is(err, devbroker.ErrBadAddress) {
		return exitUsage
	}
	return exitFailed
}

// lookPathIn finds a program in the PATH that getenv gives, as
// exec.LookPath does in the process's own.
func lookPathIn(getenv env) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, dir := range filepath.SplitList(getenv("PATH")) {
			if dir == "" {
				dir = "."
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
	}
}

// devEmulator is the registry emulator serving the dev stack.
type devEmulator struct {
	url  string
	srv  *http.Server
	emu  *emulator.Emulator
	done chan error
}

// startEmulator serves the emulator on addr; callbackTLS, when set, is
// how its РЭМД callbacks authenticate, and signing, when set, how its
// РЭМД signs and whom it trusts.
func startEmulator(addr string, callbackTLS *tls.Config, signing *devpki.Signing, log *slog.Logger) (*devEmulator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("registry emulator: listen %s: %w", addr, err)
	}
	ec := emulator.Config{Log: log, CallbackTLS: callbackTLS}
	if signing != nil {
		ec.Signer, ec.Trust = signing.Registry, signing.Trust
	}
	emu := emulator.NewFromConfig(ec)
	d := &devEmulator{url: "http://" + ln.Addr().String(), emu: emu, done: make(chan error, 1),
		srv: &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	go func() { d.done <- d.srv.Serve(ln) }()
	log.Info("registry emulator listening (РЭМД, ИЭМК, prescriptions)", "url", d.url,
		"faults", "curl -X PUT "+d.url+"/admin/faults/remd -d '{\"rate_503\":0.3}'", "stats", d.url+"/admin/stats/remd")
	return d, nil
}

func (d *devEmulator) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
	d.emu.Close()
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) int {
	g := app.New(cfg, log, buildVersion(), pipeline()...)
	err := g.Run(ctx)
	var unreachable *kafkaclient.UnreachableError
	var refused *kafkaclient.HandshakeError
	switch {
	case err == nil:
		log.Info("stopped cleanly")
		return exitOK
	case errors.As(err, &unreachable), errors.As(err, &refused):
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
}
