// Command egisz-gateway is the gateway's one binary: `dev` runs everything
// in one process on an embedded broker, `run` runs against a Kafka cluster,
// `topics` works with the topic catalog, `version` says what is running.
//
// Exit codes: 0 done, 1 failed while running, 2 bad usage, bad
// configuration or an unreachable cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build information.
var version = ""

const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	envConfig   = "EGISZ_CONFIG"
	usageHeader = `egisz-gateway: the integration gateway between regional medical systems and the federal registries of ЕГИСЗ.

Usage: egisz-gateway <command> [flags]

Commands:
  dev       run the whole gateway in one process on an embedded Kafka broker
  run       run the gateway against a Kafka cluster
  topics    list, ensure or document the topic catalog (list|ensure|asyncapi|schemas)
  dlq       dead letters: list, show, replay and purge them (list|show|replay|purge)
  reasons   print the reason catalog: every rejection and failure code, its owner and texts
  document-event  print a document event built from a CDA file, its .sig files and metadata
  certificates  list signing certificates ФРМР lists that end soon, by clinic (--expiring 30d)
  version   print the version

Run 'egisz-gateway <command> --help' for a command's flags.
`
)

func main() {
	// Most of the heap is short-lived JSON: collecting less often cut CPU
	// per normalized event by a fifth (GOGC=400 against 100 in the
	// normalize benchmark). GOGC overrides it. A soft memory limit keeps
	// that from costing memory (memoryLimit says which); GOMEMLIMIT overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if limit, _ := memoryLimit(os.Getenv, os.ReadFile); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// env is how commands read the environment; tests pass their own.
type env func(string) string

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageHeader)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return cmdDev(ctx, rest, stdout, stderr, getenv)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr, getenv)
	case "topics":
		return cmdTopics(ctx, rest, stdout, stderr, getenv)
	case "version":
		return cmdVersion(rest, stdout, stderr)
	case "reasons":
		return cmdReasons(rest, stdout, stderr)
	case "document-event":
		return cmdDocumentEvent(ctx, rest, stdout, stderr)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr, getenv)
	case "certificates":
		return cmdCertificates(ctx, rest, stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageHeader)
		return exitOK
	}
	fmt.Fprintf(stderr, "egisz-gateway: unknown command %q\n\n%s", cmd, usageHeader)
	return exitUsage
}

// newFlags returns a flag set whose --help prints the command's usage to
// stdout and whose errors go to stderr.
func newFlags(name, summary string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: egisz-gateway %s\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	return fs
}

// parse parses flags; it returns an exit code and true when the command
// should stop here (--help or a bad flag).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	return 0, false
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "Prints the gateway's version and build.", stdout, stderr)
	if code, stop := parse(fs, args); stop {
		return code
	}
	fmt.Fprintln(stdout, buildVersion())
	return exitOK
}

// buildVersion is the version set at build time, or the module version and
// VCS revision Go recorded, or "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated by config
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
