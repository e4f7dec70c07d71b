package kafkaclient

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

func TestTLSAndSASLReachTheCluster(t *testing.T) {
	p := testtool.NewPKI(t)
	secret := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(p.Server), kfake.EnableSASL(), kfake.Superuser(mech, "egisz-gateway", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			good := config.Default().Kafka
			good.Brokers = cluster.ListenAddrs()
			good.DialTimeout = config.Duration(3 * time.Second)
			good.TLS = config.TLS{Enabled: true, CAFile: p.CAFile, CertFile: p.CertFile, KeyFile: p.KeyFile}
			good.SASL = config.SASL{Mechanism: mech, Username: "egisz-gateway", PasswordFile: secret}

			wrongPassword := good
			wrongPassword.SASL.PasswordFile, wrongPassword.SASL.Password = "", "guess"
			noClientCert := good
			noClientCert.TLS.CertFile, noClientCert.TLS.KeyFile = "", ""
			plaintext := good
			plaintext.TLS = config.TLS{}

			for _, tc := range []struct {
				name      string
				cfg       config.Kafka
				ok        bool
				handshake bool // refused as a SASL login, not as unreachable
			}{
				{"mTLS and the password file", good, true, false},
				{"wrong password", wrongPassword, false, true},
				{"no client certificate", noClientCert, false, false},
				{"no TLS", plaintext, false, false},
			} {
				opts, err := Options(tc.cfg)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0))...)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				err = Ping(context.Background(), tc.cfg, cl, 3*time.Second)
				cl.Close()
				if (err == nil) != tc.ok {
					t.Errorf("%s: Ping = %v, want ok=%v", tc.name, err, tc.ok)
				}
				var unreachable *UnreachableError
				var handshake *HandshakeError
				switch {
				case err == nil:
				case tc.handshake && !errors.As(err, &handshake):
					t.Errorf("%s: %v is not a HandshakeError", tc.name, err)
				case !tc.handshake && !errors.As(err, &unreachable):
					t.Errorf("%s: %v is not an UnreachableError", tc.name, err)
				}
			}
		})
	}
}

func TestOptionsNameTheFileAtFault(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Kafka
		want string
	}{
		{config.Kafka{TLS: config.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "kafka.tls.ca_file"},
		{config.Kafka{TLS: config.TLS{Enabled: true, CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}, "kafka.tls.cert_file"},
		{config.Kafka{SASL: config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: "/nonexistent/pw"}}, "kafka.sasl.password_file"},
	} {
		_, err := Options(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Options(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

// A produce answered CONCURRENT_TRANSACTIONS (Kafka 4's transactions, right
// after the previous commit) is retried after the next metadata refresh: the
// clients must not keep franz-go's 5 s between refreshes, which stalled a
// stage's transaction that long.
func TestClientsRefreshMetadataSoonAfterAnError(t *testing.T) {
	opts, err := Options(config.Kafka{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.MetadataMinAge).(time.Duration); got > time.Second {
		t.Errorf("metadata min age %s, want at most 1s", got)
	}
}

// franz-go's own warnings reach the gateway's log at its default level,
// its info lines only at debug, and nothing of it when the gateway logs
// errors only: a client that cannot reach its broker says so.
func TestClientLogsThroughTheGatewaysLogger(t *testing.T) {
	dead, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.ListenAddrs()[0]
	dead.Close() // nothing listens there now
	live, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	cases := []struct {
		level         slog.Level
		warning, info bool
	}{
		{slog.LevelDebug, true, true},
		{slog.LevelInfo, true, false},
		{slog.LevelError, false, false},
	}
	for _, c := range cases {
		t.Run(c.level.String(), func(t *testing.T) {
			var out testtool.Buffer
			log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: c.level}))
			// A broker that is gone: franz-go warns.
			cl, err := kgo.NewClient(kgo.SeedBrokers(deadAddr), kgo.DialTimeout(200*time.Millisecond), Logger(log))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = cl.Ping(ctx)
			cancel()
			cl.Close()
			// A consumer joining its group: franz-go informs.
			cl, err = kgo.NewClient(kgo.SeedBrokers(live.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"), Logger(log))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			cl.PollFetches(ctx)
			cancel()
			cl.Close()

			got := out.String()
			warned := strings.Contains(got, `level=WARN msg="unable to open connection to broker" component=kafka-client`)
			informed := strings.Contains(got, `level=DEBUG msg="beginning to manage the group lifecycle" component=kafka-client group=g`)
			if warned != c.warning || informed != c.info {
				t.Errorf("at %s: warning logged %v (want %v), franz-go info logged %v (want %v); log:\n%s", c.level, warned, c.warning, informed, c.info, got)
			}
		})
	}
}

// A warning that repeats is logged once per repeatEvery, with how many
// were left out; a warning about another broker, or another message, is
// not held back by it.
func TestRepeatedClientWarningsAreLoggedOncePerInterval(t *testing.T) {
	var out testtool.Buffer
	now := time.Unix(0, 0)
	l := newSlogLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), func() time.Time { return now })
	refused := func(addr string) {
		l.Log(kgo.LogLevelWarn, "unable to open connection to broker", "addr", addr, "err", "refused")
	}
	steps := []struct {
		name string
		do   func()
		want []string // lines logged by the step
	}{
		{"first", func() { refused("b1") }, []string{`addr=b1 err=refused`}},
		{"again at once, four times", func() {
			for range 4 {
				refused("b1")
			}
		}, nil},
		{"another broker", func() { refused("b2") }, []string{`addr=b2 err=refused`}},
		{"another message", func() { l.Log(kgo.LogLevelError, "group manage loop errored", "group", "g", "err", "x") }, []string{`level=ERROR msg="group manage loop errored"`}},
		{"just before the interval", func() { now = now.Add(repeatEvery - time.Millisecond); refused("b1") }, nil},
		{"after it, with the count left out", func() { now = now.Add(time.Millisecond); refused("b1") }, []string{`addr=b1 err=refused repeated=5`}},
		{"info lines are never held back", func() {
			l.Log(kgo.LogLevelInfo, "assigning partitions", "group", "g")
			l.Log(kgo.LogLevelInfo, "assigning partitions", "group", "g")
		}, []string{`level=DEBUG msg="assigning partitions"`, `level=DEBUG msg="assigning partitions"`}},
	}
	seen := 0
	for _, s := range steps {
		s.do()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[seen:]
		if out.String() == "" {
			lines = nil
		}
		seen += len(lines)
		if len(lines) != len(s.want) {
			t.Fatalf("%s: logged %d lines, want %d:\n%s", s.name, len(lines), len(s.want), strings.Join(lines, "\n"))
		}
		for i, w := range s.want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("%s: line %q, want it to hold %q", s.name, lines[i], w)
			}
		}
	}
}
