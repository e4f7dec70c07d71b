// Package devbroker runs the embedded Kafka-protocol broker (kfake) of
// `egisz-gateway dev`: one process, nothing to install.
package devbroker

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Start listens on addr, which must be a loopback address (the embedded
// broker has no authentication). With a dataDir the broker keeps its topics,
// records and group offsets there across restarts.
func Start(addr, dataDir string, log *slog.Logger) (*kfake.Cluster, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded broker address %q: only loopback addresses are allowed", addr)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("egisz-dev"),
		// kfake binds 127.0.0.1 itself; keep the host the operator asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	}
	if dataDir != "" {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("embedded broker data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	log.Info("embedded Kafka broker listening", "addr", c.ListenAddrs()[0], "data_dir", dataDir)
	return c, nil
}
