package devbroker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

func TestParseKind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Kind
		err  bool
	}{
		{"", Embedded, false},
		{"embedded", Embedded, false},
		{"apache", Apache, false},
		{"Apache", "", true},
		{"kfake", "", true},
	} {
		got, err := ParseKind(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseKind(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if tc.err && !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q): %v is not ErrUnknownKind", tc.in, err)
		}
	}
}

func notFound(name string) (string, error) { return "", exec.ErrNotFound }

// dirWith returns a new directory holding the named (empty) files.
func dirWith(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Every way Start refuses before it runs anything: no JVM, no Maven.
func TestStartRefuses(t *testing.T) {
	addr := testtool.FreeAddr(t)
	emptyCache := t.TempDir()
	fullCache := dirWith(t, filepath.Join("kafka-"+kafkabroker.Version, ".complete"))
	for _, tc := range []struct {
		name string
		o    Options
		is   func(error) bool
		want string
	}{
		{"embedded off loopback", Options{Kind: Embedded, Addr: "0.0.0.0:9092"},
			func(err error) bool { return errors.Is(err, ErrBadAddress) }, "only loopback addresses are allowed"},
		{"apache off loopback", Options{Kind: Apache, Addr: "10.1.2.3:9092", LookPath: notFound},
			func(err error) bool { return errors.Is(err, ErrBadAddress) }, "only loopback addresses are allowed"},
		{"no port", Options{Kind: Apache, Addr: "127.0.0.1", LookPath: notFound},
			func(err error) bool { return errors.Is(err, ErrBadAddress) }, "missing port"},
		{"unknown kind", Options{Kind: "redpanda", Addr: addr},
			func(err error) bool { return errors.Is(err, ErrUnknownKind) }, "redpanda"},
		{"embedded on Apache Kafka's data", Options{Kind: Embedded, Addr: addr, DataDir: dirWith(t, "data/meta.properties")},
			func(err error) bool { var d *DataDirError; return errors.As(err, &d) && d.Has == Apache }, "holds the apache broker's data"},
		{"apache on the embedded broker's data", Options{Kind: Apache, Addr: addr, DataDir: dirWith(t, "meta.json"), LookPath: notFound, KafkaCache: emptyCache},
			func(err error) bool { var d *DataDirError; return errors.As(err, &d) && d.Has == Embedded }, "holds the embedded broker's data"},
		{"apache without java or maven, nothing cached", Options{Kind: Apache, Addr: addr, LookPath: notFound, KafkaCache: emptyCache},
			func(err error) bool {
				var m *MissingToolsError
				return errors.As(err, &m) && slices.Equal(m.Tools, []string{"java (apt-get install -y openjdk-17-jre-headless)", "mvn (apt-get install -y maven)"})
			}, "needs java"},
		{"apache without java, the release cached", Options{Kind: Apache, Addr: addr, LookPath: notFound, KafkaCache: fullCache},
			func(err error) bool {
				var m *MissingToolsError
				return errors.As(err, &m) && slices.Equal(m.Tools, []string{"java (apt-get install -y openjdk-17-jre-headless)"})
			}, "needs java"},
		{"apache with java, without maven, nothing cached", Options{Kind: Apache, Addr: addr, KafkaCache: emptyCache,
			LookPath: func(name string) (string, error) {
				if name == "java" {
					return "/usr/bin/java", nil
				}
				return "", exec.ErrNotFound
			}},
			func(err error) bool {
				var m *MissingToolsError
				return errors.As(err, &m) && slices.Equal(m.Tools, []string{"mvn (apt-get install -y maven)"})
			}, "needs mvn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Start(context.Background(), tc.o)
			if err == nil {
				b.Close()
				t.Fatal("started")
			}
			if !tc.is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (%T), want one containing %q of the right kind", err, err, tc.want)
			}
		})
	}
}

// With a data dir the embedded broker says, at start, what a crash can do
// and what to run instead; without one there is nothing to keep and it is quiet.
func TestEmbeddedSaysWhatSurvivesACrash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dataDir string
		warned  bool
	}{
		{"with a data dir", t.TempDir(), true},
		{"in memory", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			b, err := Start(context.Background(), Options{Kind: Embedded, Addr: testtool.FreeAddr(t), DataDir: tc.dataDir,
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "after a crash") &&
				strings.Contains(logs.String(), "dev --kafka=apache")
			if warned != tc.warned {
				t.Errorf("crash warning logged: %v, want %v:\n%s", warned, tc.warned, logs.String())
			}
			if b.Kind() != Embedded || len(b.Addrs()) != 1 {
				t.Errorf("broker %s at %v", b.Kind(), b.Addrs())
			}
		})
	}
}
