package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/devbroker"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
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
	fs := newFlags("dev [flags]", "Runs the whole gateway in one process on an embedded Kafka-protocol broker: nothing to install.\nPublish to it with kcat -b 127.0.0.1:9092; watch it on http://127.0.0.1:9464/metrics.", stdout, stderr)
	cfgPath := configFlag(fs)
	broker := fs.String("broker", "", "where the embedded broker listens (default 127.0.0.1:9092; loopback only)")
	dataDir := fs.String("data-dir", "", "keep the embedded broker's data in this directory across restarts (default: in memory)")
	httpAddr := fs.String("http", "", "address of /healthz, /readyz and /metrics (default 127.0.0.1:9464)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if *broker != "" {
		cfg.Dev.BrokerListen = *broker
	}
	if *dataDir != "" {
		cfg.Dev.DataDir = *dataDir
	}
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	cluster, err := devbroker.Start(cfg.Dev.BrokerListen, cfg.Dev.DataDir, log)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	}
	defer func() {
		start := time.Now()
		cluster.Close()
		log.Info("embedded broker stopped", "took", time.Since(start).Round(time.Millisecond))
	}()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.ReplicationFactor = 1
	cfg.Kafka.TLS = config.TLS{}
	cfg.Kafka.SASL = config.SASL{}
	if err := seedReferenceFeeds(ctx, cfg.Kafka.Brokers, log); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
	log.Info("dev stack: publish with kcat", "example", "kcat -b "+cfg.Kafka.Brokers[0]+" -L")
	return serve(ctx, cfg, log, stderr)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) int {
	g := app.New(cfg, log, buildVersion(), pipeline()...)
	err := g.Run(ctx)
	var unreachable *kafkaclient.UnreachableError
	switch {
	case err == nil:
		log.Info("stopped cleanly")
		return exitOK
	case errors.As(err, &unreachable):
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
}
