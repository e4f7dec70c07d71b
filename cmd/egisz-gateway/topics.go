package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

const topicsUsage = `Usage: egisz-gateway topics <list|ensure|asyncapi|schemas> [flags]

  list              print the catalog: every topic, its role, key, partitions and retention
  ensure            create missing topics on the configured cluster; report drift
  asyncapi          print the AsyncAPI 3.0 document generated from the catalog
  schemas DIR       write the JSON Schemas of the payloads into DIR
`

func cmdTopics(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topicsUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		fs := newFlags("topics list [flags]", "Prints the topic catalog.", stdout, stderr)
		prefix := fs.String("prefix", "", "topic prefix (as kafka.topic_prefix)")
		if code, stop := parse(fs, rest); stop {
			return code
		}
		return topicsList(stdout, topics.Default().WithPrefix(*prefix))
	case "ensure":
		fs := newFlags("topics ensure [flags]", "Creates the catalog's missing topics on the configured cluster and reports topics that differ from it.", stdout, stderr)
		cfgPath := configFlag(fs)
		if code, stop := parse(fs, rest); stop {
			return code
		}
		return topicsEnsure(ctx, *cfgPath, getenv, stdout, stderr)
	case "asyncapi":
		fs := newFlags("topics asyncapi [flags]", "Prints the AsyncAPI 3.0 document of the catalog (YAML). Its payloads refer to schemas/<Type>.schema.json beside it.", stdout, stderr)
		if code, stop := parse(fs, rest); stop {
			return code
		}
		b, err := topics.Default().AsyncAPI(topics.ContractVersion)
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
			return exitFailed
		}
		_, _ = stdout.Write(b)
		return exitOK
	case "schemas":
		fs := newFlags("topics schemas [flags] DIR", "Writes the JSON Schema of every payload type the catalog names into DIR.", stdout, stderr)
		if code, stop := parse(fs, rest); stop {
			return code
		}
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "egisz-gateway: topics schemas needs one directory")
			return exitUsage
		}
		return topicsSchemas(fs.Arg(0), stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, topicsUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "egisz-gateway: unknown topics command %q\n\n%s", sub, topicsUsage)
	return exitUsage
}

func topicsList(w io.Writer, cat topics.Catalog) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tROLE\tKEY\tPARTITIONS\tCLEANUP\tRETENTION\tPAYLOAD")
	for _, t := range cat {
		ret := "default"
		if t.Retention > 0 {
			ret = days(t.Retention)
		}
		if t.Cleanup == topics.CleanupCompact {
			ret = "latest per key"
		}
		payload := "original record"
		switch {
		case t.Payload != nil:
			payload = t.Payload.Name()
		case t.Role == topics.RoleState:
			payload = "internal state"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Name, t.Role, t.Key.Name, t.Partitions, t.Cleanup, ret, payload)
	}
	_ = tw.Flush()
	return exitOK
}

func topicsEnsure(ctx context.Context, cfgPath string, getenv env, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(cfgPath, getenv, stderr)
	if !ok {
		return exitUsage
	}
	opts, err := kafkaclient.Options(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: kafka client: %v\n", err)
		return exitUsage
	}
	defer cl.Close()
	if err := kafkaclient.Ping(ctx, cfg.Kafka, cl, cfg.Kafka.DialTimeout.D()); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitUsage
	}
	rep, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Build(cfg.Forward.Retry.TierDelays()).WithPrefix(cfg.Kafka.TopicPrefix), int16(cfg.Kafka.ReplicationFactor))
	for _, n := range rep.Created {
		fmt.Fprintf(stdout, "created  %s\n", n)
	}
	for _, n := range rep.Present {
		fmt.Fprintf(stdout, "present  %s\n", n)
	}
	for _, n := range rep.Raised {
		fmt.Fprintf(stdout, "raised   %s (max.message.bytes)\n", n)
	}
	for _, d := range rep.TooSmall {
		fmt.Fprintf(stdout, "small    %s: max.message.bytes %d, the catalog says %d; raise it: %s\n", d.Topic, d.Have, d.Want, d.RaiseCommand())
	}
	if err != nil {
		var d topics.Drift
		if errors.As(err, &d) {
			fmt.Fprintf(stderr, "egisz-gateway: %v\nThe gateway does not change existing topics; fix them by hand or recreate them.\n", err)
		} else {
			fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		}
		return exitFailed
	}
	if len(rep.TooSmall) > 0 {
		fmt.Fprintf(stderr, "egisz-gateway: %d topics take smaller records than the catalog says and could not be raised (%v); records between the limits are parked, not written: raise them with the commands above\n",
			len(rep.TooSmall), rep.TooSmall[0].RaiseErr)
		return exitFailed
	}
	return exitOK
}

func topicsSchemas(dir string, stdout, stderr io.Writer) int {
	files, err := topics.Default().Schemas()
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway: %v\n", err)
		return exitFailed
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			fmt.Fprintf(stderr, "egisz-gateway: write schema: %v\n", err)
			return exitFailed
		}
		fmt.Fprintln(stdout, p)
	}
	return exitOK
}

// days spells whole days as "7d" and anything else as Go does.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
