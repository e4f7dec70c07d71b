// Command kafka-local fetches the pinned Apache Kafka release and runs a
// command against a real broker on loopback, stopping the broker afterwards
// whatever the command's outcome. make test uses it:
//
//	kafka-local fetch
//	kafka-local exec [--nodes 0|1|3] -- go test ./...
//
// The command sees EGISZ_KAFKA_BROKERS (the broker addresses),
// EGISZ_KAFKA_HOME (the release, for tests that start clusters of their own)
// and EGISZ_KAFKA_PIDS (the nodes' process ids, for the bench's CPU figures).
// With --nodes 0 it starts no broker and sets only the release: the
// reliability suite starts its own three nodes and would leave one idle.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "fetch":
		in, err := kafkabroker.Fetch(ctx, kafkabroker.DefaultCacheDir(), os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
			return 1
		}
		fmt.Println(in.Dir)
		return 0
	case "exec":
		return execCmd(ctx, args[1:])
	case "-h", "--help", "help":
		usage()
		return 0
	}
	usage()
	return 2
}

func usage() {
	fmt.Fprintf(os.Stderr, `Usage:
  kafka-local fetch                          fetch Apache Kafka %s into %s
  kafka-local exec [--nodes N] -- CMD ARGS   start N nodes, run CMD with EGISZ_KAFKA_BROKERS set, stop them
                                             (0 nodes: only EGISZ_KAFKA_HOME, for tests that start their own)
`, kafkabroker.Version, kafkabroker.DefaultCacheDir())
}

func execCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	nodes := fs.Int("nodes", 1, "number of combined broker-controller nodes (1 or 3; 0 for none, only the release)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes < 0 {
		fmt.Fprintf(os.Stderr, "kafka-local exec: --nodes %d: want 0 or more\n", *nodes)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "kafka-local exec: no command given after --")
		return 2
	}
	in, err := kafkabroker.Fetch(ctx, kafkabroker.DefaultCacheDir(), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "egisz-kafka-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "EGISZ_KAFKA_HOME="+in.Dir, "EGISZ_KAFKA_VERSION="+in.Version)
	if *nodes > 0 {
		cluster, err := kafkabroker.Start(ctx, in, *nodes, dir, os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
			return 1
		}
		defer cluster.Stop()
		cmd.Env = append(cmd.Env, "EGISZ_KAFKA_BROKERS="+cluster.Brokers(), kafkabroker.EnvPids+"="+cluster.Pids())
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "kafka-local: %v\n", err)
		return 1
	}
}
