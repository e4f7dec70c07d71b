package kafkabroker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StartNode starts one combined broker-controller node whose broker
// listens on addr and whose configuration, logs and data live in dir.
// Storage is formatted only when dir holds none yet: started again on the
// same dir, after a clean stop or after a crash, the node recovers its log,
// its transactions and its group offsets as any Kafka broker does. It
// returns once the broker answers metadata requests.
func StartNode(ctx context.Context, in Install, dir, addr string, progress io.Writer) (*Cluster, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("kafka data dir: %w", err)
	}
	ctrl, err := controllerAddr(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{install: in, dir: dir, progress: progress}
	node := &Node{ID: 1, Addr: addr, ctrlAddr: ctrl, dir: dir}
	c.Nodes = []*Node{node}
	start := time.Now()
	formatted, err := HoldsKafkaData(dir)
	if err != nil {
		return nil, err
	}
	if formatted {
		// The broker address may have moved (--broker); the rest is as it was.
		err = c.writeConfig(node)
	} else {
		err = c.format(ctx, node, newClusterID())
	}
	if err != nil {
		return nil, err
	}
	if err := c.launch(node); err != nil {
		return nil, err
	}
	if err := c.WaitReady(ctx, 3*time.Minute); err != nil {
		c.Stop()
		return nil, err
	}
	fmt.Fprintf(progress, "kafkabroker: Apache Kafka %s ready at %s in %s (data in %s, kept: %v)\n",
		in.Version, addr, time.Since(start).Round(100*time.Millisecond), dir, formatted)
	return c, nil
}

// HoldsKafkaData reports whether dir holds a formatted Kafka node's storage.
func HoldsKafkaData(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, "data", "meta.properties"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("kafka data dir: %w", err)
	}
}

// controllerAddr is the controller listener of the node in dir: the one its
// configuration names when it ran before (the quorum's voter keeps its
// address), otherwise a free loopback port.
func controllerAddr(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "server.properties"))
	if err == nil {
		defer f.Close()
		lines := bufio.NewScanner(f)
		for lines.Scan() {
			if v, ok := strings.CutPrefix(lines.Text(), "controller.quorum.voters=1@"); ok && v != "" {
				return v, nil
			}
		}
		if err := lines.Err(); err != nil {
			return "", fmt.Errorf("kafka data dir: read server.properties: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("kafka data dir: %w", err)
	}
	addrs, err := freeAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}
