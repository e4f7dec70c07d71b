// Package kafkatest hands a test a Kafka cluster: the real broker named by
// EGISZ_KAFKA_BROKERS when it is set (make test starts one), otherwise an
// in-process kfake cluster started for the test and closed after it. The
// same test runs on both. Topic and group names are made unique per test
// through Prefix, so tests sharing a real broker never see each other's data.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names the variable that points the tests at a real cluster.
const EnvBrokers = "EGISZ_KAFKA_BROKERS"

// Cluster is the cluster a test runs against.
type Cluster struct {
	Brokers []string
	// Real is true on a real Apache Kafka broker, false on kfake.
	Real bool
	// Prefix is unique to the test; put it in front of topic and group names.
	Prefix string
	// Fake is the in-process cluster, nil on a real broker.
	Fake *kfake.Cluster
}

// New returns the cluster for t.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c := &Cluster{Prefix: "t" + randomHex(6) + "."}
	if env := os.Getenv(EnvBrokers); env != "" {
		c.Brokers = strings.Split(env, ",")
		c.Real = true
		return c
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	fake, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(fake.Close)
	c.Fake = fake
	c.Brokers = fake.ListenAddrs()
	return c
}

// Name returns name made unique to the test.
func (c *Cluster) Name(name string) string { return c.Prefix + name }

// Client returns a client for the cluster, closed when the test ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for the cluster, closed when the test ends.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
