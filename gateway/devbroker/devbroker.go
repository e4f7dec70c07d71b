// Package devbroker runs the Kafka broker of `egisz-gateway dev`: the
// embedded Kafka-protocol broker (kfake), one process and nothing to
// install, or a real Apache Kafka node started by the same launcher as the
// test suite's, for a trial that must survive a crash.
package devbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
)

// Kind names the broker dev runs on.
type Kind string

const (
	// Embedded is kfake in the gateway's process. With a data dir it keeps
	// committed records across a clean stop; it does not recover open
	// transactions correctly after a crash (see CrashWarning).
	Embedded Kind = "embedded"
	// Apache is one Apache Kafka node (Java 17; Maven fetches the release
	// once), which recovers from a crash as Kafka does.
	Apache Kind = "apache"
)

// Kinds lists the accepted kinds, for usage texts.
var Kinds = []Kind{Embedded, Apache}

// ErrUnknownKind is returned by ParseKind for a name that is not a Kind.
var ErrUnknownKind = errors.New("unknown broker kind")

// ParseKind returns the Kind named s; empty means Embedded.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case "", Embedded:
		return Embedded, nil
	case Apache:
		return Apache, nil
	}
	return "", fmt.Errorf("%w %q: use %s or %s", ErrUnknownKind, s, Embedded, Apache)
}

// CrashWarning is what dev logs when the embedded broker keeps a data dir:
// what survives, and what a crash can do to transactions (issue 26, item 8;
// reproduced by TestCrashedTransactionAfterRestart).
const CrashWarning = "embedded broker: --data-dir keeps topics, committed records and group offsets across a clean stop (Ctrl-C); " +
	"after a crash (kill -9, the OOM killer) a transaction open at that moment may later show to read_committed readers as committed, " +
	"or hide later committed records from them; for a trial that must survive crashes run dev --kafka=apache"

// Options say which broker to start and where.
type Options struct {
	Kind Kind
	// Addr is where the broker listens; loopback only (neither broker
	// authenticates clients).
	Addr string
	// DataDir keeps the broker's data across restarts; empty means the
	// data goes when dev stops.
	DataDir string
	// KafkaCache is where the Apache Kafka release is kept
	// (kafkabroker.DefaultCacheDir when empty).
	KafkaCache string
	// LookPath finds programs (exec.LookPath when nil); tests pass their own.
	LookPath func(string) (string, error)
	Log      *slog.Logger
	// Progress receives the Apache Kafka launcher's progress lines
	// (fetching, starting, stopping); io.Discard when nil.
	Progress io.Writer
}

// Broker is a running broker of the dev stack.
type Broker struct {
	kind  Kind
	addrs []string
	stop  func()
}

// Addrs returns the broker addresses clients connect to.
func (b *Broker) Addrs() []string { return b.addrs }

// Kind says which broker this is.
func (b *Broker) Kind() Kind { return b.kind }

// Close stops the broker cleanly, and removes its data when it had no data dir.
func (b *Broker) Close() { b.stop() }

// MissingToolsError says which programs the Apache Kafka broker needs and
// are not installed, each with the command that installs it.
type MissingToolsError struct{ Tools []string }

func (e *MissingToolsError) Error() string {
	return "dev --kafka=apache needs " + strings.Join(e.Tools, ", ") + " (or run dev without --kafka=apache on the embedded broker)"
}

// DataDirError says a data dir holds the other kind of broker's data.
type DataDirError struct {
	Dir  string
	Kind Kind // the kind asked for
	Has  Kind // the kind whose data is there
}

func (e *DataDirError) Error() string {
	return fmt.Sprintf("data dir %s holds the %s broker's data, not the %s one's: use another directory (or --kafka=%s)", e.Dir, e.Has, e.Kind, e.Has)
}

// ErrBadAddress is returned for a broker address that is not host:port on loopback.
var ErrBadAddress = errors.New("dev broker address")

// Start starts the broker o asks for and returns once it answers.
func Start(ctx context.Context, o Options) (*Broker, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadAddress, o.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w %q: only loopback addresses are allowed", ErrBadAddress, o.Addr)
	}
	switch o.Kind {
	case "", Embedded:
		return startEmbedded(host, port, o)
	case Apache:
		return startApache(ctx, o)
	}
	return nil, fmt.Errorf("dev broker: %w %q", ErrUnknownKind, o.Kind)
}

func startEmbedded(host, port string, o Options) (*Broker, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("egisz-dev"),
		// kfake binds 127.0.0.1 itself; keep the host the operator asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	}
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("embedded broker data dir: %w", err)
		}
		kafka, err := kafkabroker.HoldsKafkaData(o.DataDir)
		if err != nil {
			return nil, err
		}
		if kafka {
			return nil, &DataDirError{Dir: o.DataDir, Kind: Embedded, Has: Apache}
		}
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", o.Addr, err)
	}
	o.Log.Info("embedded Kafka broker listening", "addr", c.ListenAddrs()[0], "data_dir", o.DataDir)
	if o.DataDir != "" {
		o.Log.Warn(CrashWarning, "data_dir", o.DataDir)
	}
	return &Broker{kind: Embedded, addrs: c.ListenAddrs(), stop: c.Close}, nil
}

// holdsEmbeddedData reports whether dir holds kfake's data (its meta.json).
func holdsEmbeddedData(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, "meta.json"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("dev broker data dir: %w", err)
	}
}

func startApache(ctx context.Context, o Options) (*Broker, error) {
	cache := o.KafkaCache
	if cache == "" {
		cache = kafkabroker.DefaultCacheDir()
	}
	if o.DataDir != "" {
		embedded, err := holdsEmbeddedData(o.DataDir)
		if err != nil {
			return nil, err
		}
		if embedded {
			return nil, &DataDirError{Dir: o.DataDir, Kind: Apache, Has: Embedded}
		}
	}
	if missing := missingTools(o.LookPath, kafkabroker.Cached(cache)); len(missing) > 0 {
		return nil, &MissingToolsError{Tools: missing}
	}
	in, err := kafkabroker.Fetch(ctx, cache, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	dir, temporary := o.DataDir, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "egisz-dev-kafka-"); err != nil {
			return nil, fmt.Errorf("dev broker data dir: %w", err)
		}
		temporary = true
	}
	o.Log.Info("starting Apache Kafka for the dev stack (a JVM: this takes a while)", "version", in.Version, "addr", o.Addr, "data_dir", o.DataDir)
	c, err := kafkabroker.StartNode(ctx, in, dir, o.Addr, o.Progress)
	if err != nil {
		if temporary {
			_ = os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	o.Log.Info("Apache Kafka broker listening", "addr", c.Brokers(), "data_dir", o.DataDir, "log", filepath.Join(dir, "server.log"))
	return &Broker{kind: Apache, addrs: strings.Split(c.Brokers(), ","), stop: func() {
		c.Stop()
		if temporary {
			_ = os.RemoveAll(dir)
		}
	}}, nil
}

// missingTools lists the programs Apache Kafka needs that lookPath does not
// find: java always, mvn only to fetch a release not yet cached.
func missingTools(lookPath func(string) (string, error), cached bool) []string {
	var out []string
	if _, err := lookPath("java"); err != nil {
		out = append(out, "java (apt-get install -y openjdk-17-jre-headless)")
	}
	if _, err := lookPath("mvn"); err != nil && !cached {
		out = append(out, "mvn (apt-get install -y maven)")
	}
	return out
}
