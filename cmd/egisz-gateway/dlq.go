package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/dlq/adminapi"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

const dlqUsage = `Usage: egisz-gateway dlq <list|show|replay|purge> [flags]

Dead letters: records the gateway could not accept or a registry rejected, parked with the
reason in their headers (egisz.dlq.ingress, egisz.dlq.<registry>).

  list     records that match a filter, with counts by reason; personal data masked
  show ID  one record: every header and the payload (--reveal shows personal data)
  replay   send records back to where they failed, once the cause is fixed (--dry-run first)
  purge    remove records for good (older than --older-than unless --force; --why required)

The CLI reaches Kafka with the configuration's credentials and acts as an operator; with --api
it calls the admin API instead, with a token and the role the API gives it. Every reveal,
replay and purge is written to egisz.audit.v1. Run 'egisz-gateway dlq <command> --help'.
`

// dlqOps is what the subcommands call: the service directly, or the admin API.
type dlqOps interface {
	List(ctx context.Context, q dlq.ListQuery) (dlq.ListResult, error)
	Show(ctx context.Context, id dlq.ID, reveal bool) (dlq.View, error)
	Replay(ctx context.Context, req dlq.ReplayRequest) (dlq.ReplayResult, error)
	Purge(ctx context.Context, req dlq.PurgeRequest) (dlq.PurgeResult, error)
}

// directOps calls the service as one actor.
type directOps struct {
	svc *dlq.Service
	who dlq.Actor
}

func (d directOps) List(ctx context.Context, q dlq.ListQuery) (dlq.ListResult, error) {
	return d.svc.List(ctx, d.who, q)
}
func (d directOps) Show(ctx context.Context, id dlq.ID, reveal bool) (dlq.View, error) {
	return d.svc.Show(ctx, d.who, id, reveal)
}
func (d directOps) Replay(ctx context.Context, req dlq.ReplayRequest) (dlq.ReplayResult, error) {
	return d.svc.Replay(ctx, d.who, req)
}
func (d directOps) Purge(ctx context.Context, req dlq.PurgeRequest) (dlq.PurgeResult, error) {
	return d.svc.Purge(ctx, d.who, req)
}

// newDLQService builds the service for a configuration, once the cluster
// answers: an unreachable one is a *kafkaclient.UnreachableError at once,
// not a command that hangs.
func newDLQService(ctx context.Context, cfg config.Config) (*dlq.Service, error) {
	opts, err := kafkaclient.Options(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	err = kafkaclient.Ping(ctx, cfg.Kafka, cl, cfg.Kafka.DialTimeout.D())
	cl.Close()
	if err != nil {
		return nil, err
	}
	return dlq.New(dlq.Config{
		KafkaOpt: opts, Prefix: cfg.Kafka.TopicPrefix, Catalog: topics.Build(cfg.Forward.Retry.TierDelays()),
		ReplayRate: float64(cfg.DLQ.ReplayRate), PurgeMinAge: cfg.DLQ.PurgeMinAge.D(),
		Log: newLogger(io.Discard, cfg.Log.Level, cfg.Log.Format),
	})
}

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, dlqUsage)
		return exitOK
	case "list", "show", "replay", "purge":
	default:
		fmt.Fprintf(stderr, "egisz-gateway dlq: unknown command %q\n\n%s", sub, dlqUsage)
		return exitUsage
	}
	summary := map[string]string{
		"list":   "Lists dead-letter records that match the filter, in id order, with counts by reason and state.\nPersonal data is masked.",
		"show":   "Shows one record (its id is topic/partition/offset, as list prints it): every header and the payload.\nPersonal data is masked unless --reveal, which is written to the audit log.",
		"replay": "Sends the parked records that match back to where they failed: an ingress record to its ingress topic,\na registry's record to the registry's outbound topic. A record is replayed once; one that fails again\nis parked anew with replay_count one higher. Run with --dry-run first.",
		"purge":  "Removes the records that match for good: they leave the listings, their content is no longer shown,\nand those at the start of a partition are deleted from Kafka. Records younger than --older-than stay\nunless --force. --why is required and goes to the audit log.",
	}[sub]
	usage := "dlq " + sub + " [flags]"
	if sub == "show" {
		usage = "dlq show [flags] <id>"
	}
	fs := newFlags(usage, summary, stdout, stderr)
	cfgPath := configFlag(fs)
	actor := fs.String("actor", "", "your name for the audit log, beside the Kafka user that runs the command (also $EGISZ_ACTOR)")
	apiURL := fs.String("api", "", "call the admin API at this URL instead of Kafka (also $EGISZ_ADMIN_URL)")
	tokenFile := fs.String("token-file", "", "file holding the admin API bearer token (also $EGISZ_ADMIN_TOKEN_FILE)")
	caFile := fs.String("ca-file", "", "CA bundle to trust for an https admin API")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	var f filterFlags
	if sub != "show" {
		f.register(fs)
	}
	pageSize := fs.Int("page-size", 50, "list: records a page")
	after := fs.String("after", "", "list: start after this id (the previous page's last)")
	reveal := fs.Bool("reveal", false, "show: show personal data (operators and auditors; audited)")
	dryRun := fs.Bool("dry-run", false, "replay, purge: say what would happen, change nothing")
	rate := fs.Float64("rate", 0, "replay: records a second at most (default: dlq.replay_rate, 50)")
	why := fs.String("why", "", "replay, purge: why you do this; kept in the audit log and the records' marks (required for purge)")
	olderThan := fs.Duration("older-than", 0, "purge: only records parked longer ago than this (default: dlq.purge_min_age, 72h)")
	force := fs.Bool("force", false, "purge: also records younger than --older-than")
	if code, stop := parse(fs, rest); stop {
		return code
	}
	filter, err := f.build()
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway dlq %s: %v\n", sub, err)
		return exitUsage
	}
	var showID dlq.ID
	if sub == "show" {
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "egisz-gateway dlq show: give one record id, such as egisz.dlq.remd/3/17")
			return exitUsage
		}
		if showID, err = dlq.ParseID(fs.Arg(0)); err != nil {
			fmt.Fprintf(stderr, "egisz-gateway dlq show: %v\n", err)
			return exitUsage
		}
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "egisz-gateway dlq %s: unexpected argument %q (ids go with --id)\n", sub, fs.Arg(0))
		return exitUsage
	}

	ops, closeOps, code := openDLQOps(*cfgPath, *actor, *apiURL, *tokenFile, *caFile, getenv, stderr)
	if ops == nil {
		return code
	}
	defer closeOps()

	var out any
	var text func(io.Writer)
	switch sub {
	case "list":
		res, err := ops.List(ctx, dlq.ListQuery{Filter: filter, PageSize: *pageSize, After: *after})
		if err != nil {
			return dlqFailed(stderr, sub, err)
		}
		out, text = res, func(w io.Writer) { printList(w, res) }
	case "show":
		v, err := ops.Show(ctx, showID, *reveal)
		if err != nil {
			return dlqFailed(stderr, sub, err)
		}
		out, text = v, func(w io.Writer) { printView(w, v) }
	case "replay":
		req := dlq.ReplayRequest{Filter: filter, DryRun: *dryRun, Rate: *rate, Reason: *why, Progress: progressPrinter(stderr, "replay")}
		res, err := ops.Replay(ctx, req)
		if !*asJSON {
			printReplay(stdout, res)
		}
		if err != nil {
			if *asJSON {
				writeIndented(stdout, res)
			}
			return dlqFailed(stderr, sub, err)
		}
		out, text = res, func(io.Writer) {}
	case "purge":
		res, err := ops.Purge(ctx, dlq.PurgeRequest{Filter: filter, MinAge: *olderThan, Force: *force, Reason: *why, DryRun: *dryRun})
		if err != nil {
			return dlqFailed(stderr, sub, err)
		}
		out, text = res, func(w io.Writer) { printPurge(w, res) }
	}
	if *asJSON {
		writeIndented(stdout, out)
	} else {
		text(stdout)
	}
	return exitOK
}

// openDLQOps connects to the admin API when asked, else to Kafka.
func openDLQOps(cfgPath, actor, apiURL, tokenFile, caFile string, getenv env, stderr io.Writer) (dlqOps, func(), int) {
	if apiURL == "" {
		apiURL = getenv("EGISZ_ADMIN_URL")
	}
	if tokenFile == "" {
		tokenFile = getenv("EGISZ_ADMIN_TOKEN_FILE")
	}
	if apiURL != "" {
		c := &adminapi.Client{Base: apiURL}
		if tokenFile != "" {
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				fmt.Fprintf(stderr, "egisz-gateway dlq: token: %v\n", err)
				return nil, nil, exitUsage
			}
			c.Token = strings.TrimSpace(string(b))
		}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			pool := x509.NewCertPool()
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				fmt.Fprintf(stderr, "egisz-gateway dlq: --ca-file %s: no PEM certificates (%v)\n", caFile, err)
				return nil, nil, exitUsage
			}
			c.HTTP = &http.Client{Timeout: time.Hour, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		return c, func() {}, exitOK
	}
	cfg, ok := loadConfig(cfgPath, getenv, stderr)
	if !ok {
		return nil, nil, exitUsage
	}
	svc, err := newDLQService(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway dlq: %v\n", err)
		return nil, nil, exitUsage
	}
	// Whoever holds the Kafka credentials can read and write these topics
	// anyway: Kafka's ACLs are the guard here, the audit log the record.
	return directOps{svc: svc, who: dlq.Actor{Name: cliActor(actor, getenv, cfg.Kafka.SASL.Username), Role: dlq.RoleOperator, Via: "cli"}}, svc.Close, exitOK
}

// cliActor is the name the audit log keeps for a command run straight
// against Kafka. The Kafka user is the one name the cluster checked, so it
// comes first; a name given with --actor or $EGISZ_ACTOR is added beside
// it, as what the caller says of itself. Nothing is taken from $USER,
// which anyone sets as they like.
func cliActor(flagged string, getenv env, kafkaUser string) string {
	said := cmp.Or(flagged, getenv("EGISZ_ACTOR"))
	switch {
	case kafkaUser != "" && said != "":
		return "kafka:" + kafkaUser + " (says " + said + ")"
	case kafkaUser != "":
		return "kafka:" + kafkaUser
	case said != "":
		return said + " (no Kafka credentials)"
	}
	return "unnamed (no Kafka credentials, no --actor)"
}

func dlqFailed(stderr io.Writer, sub string, err error) int {
	fmt.Fprintf(stderr, "egisz-gateway dlq %s: %v\n", sub, err)
	if errors.Is(err, dlq.ErrBadRequest) || errors.Is(err, dlq.ErrDenied) || errors.Is(err, dlq.ErrNotFound) {
		return exitUsage
	}
	return exitFailed
}

// filterFlags are the filter's flags; repeated or comma-separated.
type filterFlags struct {
	topics, reasons, owners, sources, dests, states, ids listFlag
	since, until, patient                                string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.topics, "topic", "DLQ topic: egisz.dlq.ingress, egisz.dlq.remd, egisz.dlq.iemk, egisz.dlq.erx (repeatable)")
	fs.Var(&f.reasons, "reason", "reason code, as 'egisz-gateway reasons' lists them (repeatable)")
	fs.Var(&f.owners, "owner", "who must act: clinic, mis, integrator, registry (repeatable)")
	fs.Var(&f.sources, "source", "the event's ce_source (repeatable)")
	fs.Var(&f.dests, "destination", "registry: remd, iemk, erx (repeatable)")
	fs.Var(&f.states, "state", "parked, replayed, purged (default: parked and replayed)")
	fs.Var(&f.ids, "id", "record id topic/partition/offset (repeatable)")
	fs.StringVar(&f.since, "since", "", "parked at or after: RFC 3339 time, or a duration back from now (24h)")
	fs.StringVar(&f.until, "until", "", "parked before: RFC 3339 time, or a duration back from now")
	fs.StringVar(&f.patient, "patient", "", "patient key: a СНИЛС in any spelling, enp:<16 digits> or local:<MO OID>:<id>")
}

func (f *filterFlags) build() (dlq.Filter, error) {
	out := dlq.Filter{Topics: f.topics, Reasons: f.reasons, Owners: f.owners, Sources: f.sources,
		Destinations: f.dests, States: f.states, Patient: f.patient}
	for _, s := range f.ids {
		id, err := dlq.ParseID(s)
		if err != nil {
			return out, err
		}
		out.IDs = append(out.IDs, id)
	}
	for name, v := range map[string]struct {
		s string
		t *time.Time
	}{"since": {f.since, &out.Since}, "until": {f.until, &out.Until}} {
		if v.s == "" {
			continue
		}
		if d, err := time.ParseDuration(v.s); err == nil {
			*v.t = time.Now().Add(-d)
			continue
		}
		t, err := time.Parse(time.RFC3339, v.s)
		if err != nil {
			return out, fmt.Errorf("--%s %q: use an RFC 3339 time (2026-11-22T10:00:00+03:00) or a duration (24h)", name, v.s)
		}
		*v.t = t
	}
	return out, out.Check()
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// progressPrinter shows a long replay's progress: one line rewritten in
// place on a terminal, a line per batch otherwise.
func progressPrinter(w io.Writer, what string) func(done, total int) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	return func(done, total int) {
		el := time.Since(start)
		rate := float64(done) / max(el.Seconds(), 1e-3)
		left := time.Duration(float64(total-done)/max(rate, 1e-3)) * time.Second
		line := fmt.Sprintf("%s: %d/%d (%d%%), %.0f records/s, about %s left", what, done, total, done*100/max(total, 1), rate, left.Round(time.Second))
		switch {
		case tty && done < total:
			fmt.Fprintf(w, "\r%s\x1b[K", line)
		case tty:
			fmt.Fprintf(w, "\r%s\x1b[K\n", line)
		default:
			fmt.Fprintln(w, line)
		}
	}
}

func writeIndented(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func printList(w io.Writer, res dlq.ListResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPARKED (UTC)\tSTATE\tREASON\tOWNER\tSTAGE\tKEY\tSOURCE\tREPLAYS")
	for _, v := range res.Records {
		stage := v.Stage
		if v.Destination != "" {
			stage += "/" + v.Destination
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", v.ID, v.ParkedAt.UTC().Format("2006-01-02 15:04:05"),
			v.State, v.Reason, v.Owner, stage, v.Key, v.Source, v.ReplayCount)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d records match; by reason: %s; by state: %s\n", res.Total, counts(res.ByReason), counts(res.ByState))
	if res.Next != "" {
		fmt.Fprintf(w, "more: --after %s\n", res.Next)
	}
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func printView(w io.Writer, v dlq.View) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, val any) {
		if s := fmt.Sprint(val); s != "" && s != "0" && s != "0001-01-01 00:00:00 +0000 UTC" {
			fmt.Fprintf(tw, "%s\t%s\n", k, s)
		}
	}
	row("id", v.ID)
	row("state", v.State)
	row("parked at", v.ParkedAt.UTC().Format(time.RFC3339))
	row("key", v.Key)
	row("reason", v.Reason)
	row("message", v.Message)
	row("owner", v.Owner)
	row("field", v.Field)
	row("stage", v.Stage)
	row("destination", v.Destination)
	row("original", v.Original)
	row("attempts", v.Attempts)
	row("replay count", v.ReplayCount)
	row("retryable", v.Retryable)
	row("http status", v.HTTPStatus)
	row("response", v.Response)
	if v.Mark != nil {
		row("marked", fmt.Sprintf("%s at %s by %s %s %s", v.Mark.State, v.Mark.At.UTC().Format(time.RFC3339), v.Mark.Actor, v.Mark.To, v.Mark.Reason))
	}
	row("payload bytes", v.PayloadBytes)
	row("revealed", v.Revealed)
	tw.Flush()
	fmt.Fprintln(w, "\nheaders:")
	for _, h := range v.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Key, h.Value)
	}
	fmt.Fprintln(w, "\npayload:")
	switch {
	case len(v.Payload) > 0:
		fmt.Fprintln(w, string(v.Payload))
	case v.PayloadText != "":
		fmt.Fprintln(w, v.PayloadText)
	case v.State == dlq.StatePurged:
		fmt.Fprintln(w, "(purged: not shown)")
	default:
		fmt.Fprintln(w, "(empty)")
	}
}

func printReplay(w io.Writer, res dlq.ReplayResult) {
	verb := "replayed"
	if res.DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(w, "%s %d of %d matching records", verb, res.Replayed, res.Matched)
	if len(res.ByTarget) > 0 {
		fmt.Fprintf(w, "; to %s", counts(res.ByTarget))
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "; skipped: %s", counts(res.Skipped))
	}
	fmt.Fprintln(w)
	for i, m := range res.Moves {
		if i == 50 {
			fmt.Fprintf(w, "  … and %d more (--json lists up to 1000)\n", len(res.Moves)-50)
			break
		}
		fmt.Fprintf(w, "  %s (%s) -> %s\n", m.ID, m.Reason, m.To)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "  cannot replay %s\n", p)
	}
}

func printPurge(w io.Writer, res dlq.PurgeResult) {
	verb := "purged"
	if res.DryRun {
		verb = "would purge"
	}
	fmt.Fprintf(w, "%s %d of %d matching records (%s); %d left alone as younger than the minimum age; %d deleted from Kafka\n",
		verb, res.Purged, res.Matched, counts(res.ByReason), res.TooYoung, res.Deleted)
}
