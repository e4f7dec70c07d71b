package kafkabroker

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// A node started again on its directory keeps its controller address (the
// quorum's one voter is known by it); a new directory gets a free port.
func TestControllerAddrKeptInTheDataDir(t *testing.T) {
	fresh, err := controllerAddr(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if host, _, err := net.SplitHostPort(fresh); err != nil || host != "127.0.0.1" {
		t.Fatalf("a new directory's controller address %q: %v", fresh, err)
	}

	dir := t.TempDir()
	c := &Cluster{dir: dir}
	node := &Node{ID: 1, Addr: "127.0.0.1:9092", ctrlAddr: "127.0.0.1:40123", dir: dir}
	c.Nodes = []*Node{node}
	if err := c.writeConfig(node); err != nil {
		t.Fatal(err)
	}
	kept, err := controllerAddr(dir)
	if err != nil || kept != "127.0.0.1:40123" {
		t.Fatalf("controller address after a restart %q, %v; want 127.0.0.1:40123", kept, err)
	}
}

func TestHoldsKafkaData(t *testing.T) {
	dir := t.TempDir()
	if got, err := HoldsKafkaData(dir); got || err != nil {
		t.Fatalf("empty directory: %v, %v", got, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "meta.properties"), []byte("node.id=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := HoldsKafkaData(dir); !got || err != nil {
		t.Fatalf("formatted directory: %v, %v", got, err)
	}
}

func TestCached(t *testing.T) {
	dir := t.TempDir()
	if Cached(dir) {
		t.Fatal("an empty cache holds the release")
	}
	rel := filepath.Join(dir, "kafka-"+Version)
	if err := os.MkdirAll(rel, 0o750); err != nil {
		t.Fatal(err)
	}
	if Cached(dir) {
		t.Fatal("a release without its .complete marker counts as cached")
	}
	if err := os.WriteFile(filepath.Join(rel, ".complete"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !Cached(dir) {
		t.Fatal("a complete release is not cached")
	}
}
