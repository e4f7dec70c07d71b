package kafkabroker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running set of KRaft nodes, each both broker and controller.
type Cluster struct {
	install  Install
	dir      string
	progress io.Writer
	Nodes    []*Node
}

// Node is one Kafka process.
type Node struct {
	ID       int
	Addr     string // the broker listener, 127.0.0.1:port
	ctrlAddr string
	dir      string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	up       bool // launched and not killed: it should be running
}

func (n *Node) wanted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// Brokers returns the broker addresses, comma-separated, as
// EGISZ_KAFKA_BROKERS wants them.
func (c *Cluster) Brokers() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return strings.Join(addrs, ",")
}

// EnvPids names the variable `kafka-local exec` sets to the nodes' process
// ids, comma-separated, for a command that measures the brokers' CPU.
const EnvPids = "EGISZ_KAFKA_PIDS"

// Pids returns the process ids of the running nodes, comma-separated, as
// EnvPids has them.
func (c *Cluster) Pids() string {
	var pids []string
	for _, n := range c.Nodes {
		n.mu.Lock()
		if n.cmd != nil && n.cmd.Process != nil && n.up {
			pids = append(pids, strconv.Itoa(n.cmd.Process.Pid))
		}
		n.mu.Unlock()
	}
	return strings.Join(pids, ",")
}

// Start formats storage under dir and starts n nodes (1 or 3), returning
// once every broker answers metadata requests. Progress lines (starts,
// stops, timings) go to progress.
func Start(ctx context.Context, in Install, n int, dir string, progress io.Writer) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("start Kafka: %d nodes", n)
	}
	c := &Cluster{install: in, dir: dir, progress: progress}
	addrs, err := freeAddrs(2 * n)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		c.Nodes = append(c.Nodes, &Node{ID: i, Addr: addrs[2*i-2], ctrlAddr: addrs[2*i-1], dir: filepath.Join(dir, fmt.Sprintf("node-%d", i))})
	}
	clusterID := newClusterID()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, node := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.format(ctx, node, clusterID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, node := range c.Nodes {
		if err := c.launch(node); err != nil {
			c.Stop()
			return nil, err
		}
	}
	// Three JVMs on a 2-core machine can take a while to elect and register.
	if err := c.WaitReady(ctx, time.Duration(60+60*n)*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	fmt.Fprintf(progress, "kafkabroker: Apache Kafka %s, %d node(s) ready at %s in %s\n", in.Version, n, c.Brokers(), time.Since(start).Round(100*time.Millisecond))
	return c, nil
}

func (c *Cluster) serverProperties(node *Node) string {
	n := len(c.Nodes)
	voters := make([]string, n)
	for i, o := range c.Nodes {
		voters[i] = fmt.Sprintf("%d@%s", o.ID, o.ctrlAddr)
	}
	rf, isr := 1, 1
	if n >= 3 {
		rf, isr = 3, 2
	}
	props := []string{
		"process.roles=broker,controller",
		fmt.Sprintf("node.id=%d", node.ID),
		"controller.quorum.voters=" + strings.Join(voters, ","),
		"listeners=PLAINTEXT://" + node.Addr + ",CONTROLLER://" + node.ctrlAddr,
		"advertised.listeners=PLAINTEXT://" + node.Addr,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs=" + filepath.Join(node.dir, "data"),
		fmt.Sprintf("offsets.topic.replication.factor=%d", rf),
		fmt.Sprintf("transaction.state.log.replication.factor=%d", rf),
		fmt.Sprintf("transaction.state.log.min.isr=%d", isr),
		fmt.Sprintf("default.replication.factor=%d", rf),
		fmt.Sprintf("min.insync.replicas=%d", isr),
		"offsets.topic.num.partitions=6",
		"transaction.state.log.num.partitions=6",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=false",
		"num.partitions=1",
		// Small segments keep compaction and retention observable in tests.
		"log.segment.bytes=33554432",
	}
	return strings.Join(props, "\n") + "\n"
}

const log4j2Properties = `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
`

func (c *Cluster) format(ctx context.Context, node *Node, clusterID string) error {
	if err := c.writeConfig(node); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "java", c.jvmArgs(node, "kafka.tools.StorageTool", "format", "-t", clusterID, "-c", filepath.Join(node.dir, "server.properties"))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka node %d: format storage: %w\n%s", node.ID, err, tail(string(out), 10))
	}
	return nil
}

// writeConfig writes a node's server and logging configuration.
func (c *Cluster) writeConfig(node *Node) error {
	if err := os.MkdirAll(node.dir, 0o755); err != nil {
		return fmt.Errorf("kafka node %d: %w", node.ID, err)
	}
	files := map[string]string{
		"server.properties": c.serverProperties(node),
		"log4j2.properties": log4j2Properties,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(node.dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("kafka node %d: %w", node.ID, err)
		}
	}
	return nil
}

func (c *Cluster) jvmArgs(node *Node, main string, args ...string) []string {
	jvm := []string{
		"-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		"-Djava.awt.headless=true",
		"-Dkafka.logs.dir=" + node.dir,
		"-Dlog4j2.configurationFile=" + filepath.Join(node.dir, "log4j2.properties"),
		"-cp", c.install.Classpath(),
		main,
	}
	return append(jvm, args...)
}

// launch starts a node's process; the storage must be formatted.
func (c *Cluster) launch(node *Node) error {
	node.mu.Lock()
	defer node.mu.Unlock()
	out, err := os.OpenFile(filepath.Join(node.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("kafka node %d: %w", node.ID, err)
	}
	cmd := exec.Command("java", c.jvmArgs(node, "kafka.Kafka", filepath.Join(node.dir, "server.properties"))...)
	cmd.Stdout, cmd.Stderr = out, out
	// The broker dies with the process that started it, even when that
	// process is killed, so no test leaves a broker behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("kafka node %d: start java: %w", node.ID, err)
	}
	node.cmd = cmd
	node.up = true
	node.exited = make(chan struct{})
	exited := node.exited
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(exited)
	}()
	fmt.Fprintf(c.progress, "kafkabroker: node %d starting on %s (pid %d)\n", node.ID, node.Addr, cmd.Process.Pid)
	return nil
}

// WaitReady waits until every running node answers as a broker of the cluster.
func (c *Cluster) WaitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Brokers(), ",")...), kgo.DialTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("kafka readiness client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := 0
	for _, n := range c.Nodes {
		if n.wanted() {
			want++
		}
	}
	var last error
	for {
		for _, n := range c.Nodes {
			if n.wanted() && !n.Running() {
				return fmt.Errorf("kafka node %d exited while starting; its log ends:\n%s", n.ID, c.LogTail(n.ID, 30))
			}
		}
		// A fresh request each time: kadm otherwise answers from kgo's
		// metadata cache, which may hold an answer from before every node
		// registered.
		rctx, rcancel := context.WithTimeout(kadm.WithAuthorizedOps(ctx), 3*time.Second)
		m, err := adm.BrokerMetadata(rctx)
		rcancel()
		if err == nil && len(m.Brokers) >= want && m.Controller >= 0 {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			var logs strings.Builder
			for _, n := range c.Nodes {
				fmt.Fprintf(&logs, "node %d (running %v):\n%s", n.ID, n.Running(), c.LogTail(n.ID, 12))
			}
			return fmt.Errorf("kafka not ready within %s (last error %v); the nodes' logs end:\n%s", within, last, logs.String())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill ends node id (1-based) with SIGKILL, as a crash would.
func (c *Cluster) Kill(id int) error {
	n := c.Nodes[id-1]
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.up = false
	n.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("kafka node %d is not running", id)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill kafka node %d: %w", id, err)
	}
	<-exited
	fmt.Fprintf(c.progress, "kafkabroker: node %d killed (SIGKILL, pid %d)\n", id, cmd.Process.Pid)
	return nil
}

// Restart starts a stopped or killed node again on its old ports and data.
func (c *Cluster) Restart(id int) error {
	if c.Nodes[id-1].Running() {
		return fmt.Errorf("kafka node %d is running", id)
	}
	return c.launch(c.Nodes[id-1])
}

// Stop ends every node: SIGTERM for a clean shutdown, SIGKILL after 20 s.
func (c *Cluster) Stop() {
	start := time.Now()
	for _, n := range c.Nodes {
		n.mu.Lock()
		n.up = false
		n.mu.Unlock()
		if n.Running() {
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
		}
	}
	for _, n := range c.Nodes {
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		if exited == nil {
			continue
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	fmt.Fprintf(c.progress, "kafkabroker: %d node(s) stopped in %s\n", len(c.Nodes), time.Since(start).Round(100*time.Millisecond))
}

// LogTail returns the last lines of a node's server log, for failures.
func (c *Cluster) LogTail(id, lines int) string {
	n := c.Nodes[id-1]
	var b strings.Builder
	for _, f := range []string{"server.log", "stdout.log"} {
		data, err := os.ReadFile(filepath.Join(n.dir, f))
		if err == nil && len(data) > 0 {
			b.WriteString("--- " + f + "\n" + tail(string(data), lines) + "\n")
		}
	}
	return b.String()
}

// freeAddrs finds n distinct free ports. The listeners stay open until all
// are found: closed one at a time, the kernel may hand the same port out
// twice (it did, and a node of the three-node cluster could not start).
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// newClusterID returns a Kafka Uuid: 16 random bytes, base64url, unpadded.
// Like Kafka's Uuid.randomUuid it never begins with '-': kafka-storage's
// argument parser takes "-t -abc…" for a missing value and an option (one
// CI run in 64 failed to format a node that way).
func newClusterID() string {
	b := make([]byte, 16)
	for {
		_, _ = rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); !strings.HasPrefix(id, "-") {
			return id
		}
	}
}
