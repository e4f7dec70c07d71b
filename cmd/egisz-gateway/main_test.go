package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func noEnv(string) string { return "" }

// devStack runs `egisz-gateway dev` in-process until stop is called.
type devStack struct {
	broker, http, emulator string
	stderr                 *testtool.Buffer
	cancel                 context.CancelFunc
	exit                   chan int
}

func startDev(t *testing.T, extra ...string) *devStack {
	t.Helper()
	return startDevEnv(t, noEnv, extra...)
}

// startDevEnv is startDev with an environment.
func startDevEnv(t *testing.T, getenv env, extra ...string) *devStack {
	t.Helper()
	d := &devStack{broker: testtool.FreeAddr(t), http: testtool.FreeAddr(t), emulator: testtool.FreeAddr(t), stderr: &testtool.Buffer{}, exit: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	args := append([]string{"dev", "--broker", d.broker, "--http", d.http, "--emulator", d.emulator}, extra...)
	go func() { d.exit <- run(ctx, args, &testtool.Buffer{}, d.stderr, getenv) }()
	t.Cleanup(func() { cancel() })
	return d
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// waitReady polls /readyz until it answers 200 or the deadline passes.
func (d *devStack) waitReady(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		select {
		case code := <-d.exit:
			t.Fatalf("dev exited with %d before it was ready:\n%s", code, d.stderr.String())
		default:
		}
		resp, err := http.Get("http://" + d.http + "/readyz")
		if err == nil {
			var body struct{ Ready bool }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && body.Ready {
				return time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("dev not ready within %s:\n%s", within, d.stderr.String())
	return 0
}

// stop sends the equivalent of Ctrl-C and returns the exit code.
func (d *devStack) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.exit:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("dev did not stop within 10s:\n%s", d.stderr.String())
		return -1
	}
}

func TestDevIsReadyWithEveryTopicAndStopsCleanly(t *testing.T) {
	d := startDev(t)
	took := d.waitReady(t, 30*time.Second)
	t.Logf("dev ready after %s", took)
	// dev says where one's own doctors and organizations go.
	for _, want := range []string{"publish your own doctors and organizations", topics.FRMREmployee, topics.FRMOOrganization, "Your own doctors and organizations in dev"} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("dev's log does not say %q", want)
		}
	}

	// The newcomer's view: kcat -L lists every catalog topic.
	kcat := testtool.Require(t, "kcat")
	out, err := exec.Command(kcat, "-b", d.broker, "-L", "-m", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	for _, name := range topics.Default().Names() {
		if !strings.Contains(string(out), `topic "`+name+`"`) {
			t.Errorf("kcat -L does not show %s", name)
		}
	}
	// And can publish the examples as the README shows: each is accepted,
	// since dev seeds the reference feeds.
	ingress := map[string]string{
		"case.json": topics.RMISCase, "document.json": topics.RMISDocument, "prescription.json": topics.RMISPrescription,
		"lab_result.json": topics.LabResult, "dispensation.json": topics.PharmacyDispense, "identity.json": topics.ESIAIdentity,
	}
	publishFrom := func(name, ceID, ceSource string) {
		topic := ingress[name]
		tp, _ := topics.Default().Lookup(topic)
		var compact bytes.Buffer
		if err := json.Compact(&compact, topics.Example(name)); err != nil {
			t.Fatal(err)
		}
		pub := exec.Command(kcat, "-b", d.broker, "-P", "-t", topic, "-k", "11223344595", "-X", "partitioner=murmur2_random",
			"-H", "ce_specversion=1.0", "-H", "ce_id="+ceID, "-H", "ce_source="+ceSource, "-H", "ce_type="+tp.EventType)
		pub.Stdin = bytes.NewReader(append(compact.Bytes(), '\n'))
		if out, err := pub.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P %s: %v\n%s", name, err, out)
		}
	}
	publish := func(name string) { publishFrom(name, "readme-"+name, "1.2.643.5.1.13.13.12.1.42.202") }
	// dev seeds the information systems feed, so the binding check is on:
	// the example case from a system the feed does not list is refused.
	publishFrom("case.json", "unbound-case", "other-mis")
	for name := range ingress {
		if name != "dispensation.json" {
			publish(name)
		}
	}
	// The dispensation draws on the prescription: it goes once the
	// prescription is in the gateway's state (a dispensation of a
	// prescription not yet known is refused as RX_UNKNOWN).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command(kcat, "-b", d.broker, "-C", "-t", topics.PharmacyRx, "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed").Output()
		if strings.Contains(string(out), `"state":"issued"`) {
			break
		}
	}
	publish("dispensation.json")
	// Each is accepted, then registered by every registry it is routed to
	// (the emulator answers; РЭМД through its callback).
	want := map[string][]string{
		"case.json":         {"accepted", "iemk:registered"},
		"document.json":     {"accepted", "remd:pending", "remd:registered"},
		"prescription.json": {"accepted", "erx:registered"},
		"lab_result.json":   {"accepted", "iemk:registered"},
		"dispensation.json": {"accepted", "erx:registered"},
		"identity.json":     {"accepted"},
	}
	outcomes := map[string][]string{}
	complete := func() bool {
		if len(outcomes["unbound-case"]) == 0 {
			return false
		}
		for name, w := range want {
			if len(outcomes["readme-"+name]) < len(w) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !complete() && time.Now().Before(deadline); {
		out, err := exec.Command(kcat, "-b", d.broker, "-C", "-t", topics.StatusTopic, "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed").Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		outcomes = map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var st topics.Status
			if json.Unmarshal([]byte(line), &st) == nil && st.CEID != "" {
				o := st.Outcome
				if st.Registry != "" {
					o = st.Registry + ":" + o
				}
				if len(st.Reasons) > 0 {
					o += fmt.Sprint(st.Reasons)
				}
				outcomes[st.CEID] = append(outcomes[st.CEID], o)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name, w := range want {
		got := append([]string(nil), outcomes["readme-"+name]...)
		sort.Strings(got)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("example %s: statuses %q, want %q", name, got, w)
		}
	}
	if got := outcomes["unbound-case"]; len(got) != 1 || !strings.HasPrefix(got[0], "rejected") || !strings.Contains(got[0], "NO_RMIS") {
		t.Errorf("case from an unbound system: statuses %q, want one rejected with NO_RMIS", got)
	}
	if !strings.Contains(d.stderr.String(), "information system bindings on") {
		t.Errorf("dev's log does not say the binding check is on")
	}
	var stats emulator.Stats
	getJSON(t, "http://"+d.emulator+"/admin/stats/remd", &stats)
	if stats.Registered != 1 || stats.Callbacks != 1 || stats.Resent != 0 {
		t.Errorf("РЭМД emulator: %d registered, %d callbacks delivered, %d re-sends; want 1, 1, 0 (the document; a lab result goes to ИЭМК only)", stats.Registered, stats.Callbacks, stats.Resent)
	}

	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"egisz_build_info{", "egisz_kafka_", "go_goroutines", `egisz_forward_outcomes_total{outcome="registered",registry="iemk"} 2`,
		"egisz_remd_pending_documents 0", `egisz_remd_callbacks_total{result="registered"} 1`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Every exactly-once stage counts its transactions; these carried the
	// examples (six events in, each registry's calls).
	// РЭМД's callbacks commit in transactions of their own, counted alike.
	for _, stage := range []string{"normalize", "forward-remd", "forward-iemk", "forward-erx", "forward-remd-callbacks"} {
		for _, series := range []string{`egisz_stage_transactions_total{result="committed",stage="` + stage + `"}`, `egisz_stage_records_total{direction="in",stage="` + stage + `"}`} {
			if !metricAbove0(metrics.String(), series) {
				t.Errorf("/metrics: %s missing or 0", series)
			}
		}
	}
	if resp, err := http.Get("http://" + d.http + "/debug/pprof/"); err != nil {
		t.Errorf("/debug/pprof/: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/debug/pprof/ without http.pprof: %d, want 404", resp.StatusCode)
		}
	}

	if code := d.stop(t); code != exitOK {
		t.Fatalf("dev exited %d after Ctrl-C:\n%s", code, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "stopped cleanly") {
		t.Errorf("no clean-stop log line:\n%s", d.stderr.String())
	}
}

func TestDevDataDirKeepsRecordsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, "--data-dir", dir)
	d.waitReady(t, 30*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.ESIAIdentity, Key: []byte("11223344595"), Value: []byte(`{"kept":true}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if code := d.stop(t); code != exitOK {
		t.Fatalf("first dev exited %d:\n%s", code, d.stderr.String())
	}

	d2 := startDev(t, "--data-dir", dir, "--broker", d.broker)
	d2.waitReady(t, 30*time.Second)
	if !strings.Contains(d2.stderr.String(), "created=0") {
		t.Errorf("second start recreated topics:\n%s", d2.stderr.String())
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.ConsumeTopics(topics.ESIAIdentity), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	fetches := cl2.PollFetches(ctx)
	if err := fetches.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Value) != `{"kept":true}` {
		t.Fatalf("after restart got %d records", len(recs))
	}
	if code := d2.stop(t); code != exitOK {
		t.Fatalf("second dev exited %d", code)
	}
}

func TestConfigurationMistakesExitTwoWithTheKey(t *testing.T) {
	closed := testtool.FreeAddr(t) // nothing listens there
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badFile, []byte("kafka:\n  brokers: [a:1]\n  dial_timout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kfakeDir := t.TempDir() // as the embedded broker leaves it
	if err := os.WriteFile(filepath.Join(kfakeDir, "meta.json"), []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown key", []string{"run", "--config", badFile}, nil, "config: kafka.dial_timout: unknown key (line 3)"},
		{"bad duration", []string{"run"}, map[string]string{"EGISZ_SHUTDOWN_TIMEOUT": "ten"}, `config: EGISZ_SHUTDOWN_TIMEOUT: "ten" is not a duration`},
		{"unreachable broker", []string{"run"}, map[string]string{"EGISZ_KAFKA_BROKERS": closed, "EGISZ_KAFKA_DIAL_TIMEOUT": "2s"}, "cannot reach Kafka at " + closed},
		{"unreachable broker for ensure", []string{"topics", "ensure"}, map[string]string{"EGISZ_KAFKA_BROKERS": closed, "EGISZ_KAFKA_DIAL_TIMEOUT": "2s"}, "cannot reach Kafka at " + closed},
		{"missing config file", []string{"run", "--config", "/nonexistent/gw.yaml"}, nil, "/nonexistent/gw.yaml"},
		{"non-loopback dev broker", []string{"dev", "--broker", "0.0.0.0:9092"}, nil, "only loopback addresses are allowed"},
		{"unknown dev broker", []string{"dev", "--kafka", "confluent"}, nil, `--kafka: unknown broker kind "confluent": use embedded or apache`},
		{"unknown dev broker in the environment", []string{"dev"}, map[string]string{"EGISZ_DEV_KAFKA": "redpanda"}, `dev.kafka: "redpanda" is not one of embedded, apache`},
		// PATH is empty here: Java cannot be found, and dev says how to install it.
		{"dev on Apache Kafka without Java", []string{"dev", "--kafka", "apache"}, nil, "dev --kafka=apache needs java (apt-get install -y openjdk-17-jre-headless)"},
		{"dev on Apache Kafka on the embedded broker's data", []string{"dev", "--kafka", "apache", "--data-dir", kfakeDir}, nil, "holds the embedded broker's data, not the apache one's"},
		{"unknown command", []string{"serve"}, nil, `unknown command "serve"`},
		{"unknown flag", []string{"dev", "--brokr", "x"}, nil, "flag provided but not defined: -brokr"},
		{"schemas without a directory", []string{"topics", "schemas"}, nil, "needs one directory"},
		{"dlq: unreachable broker", []string{"dlq", "list"}, map[string]string{"EGISZ_KAFKA_BROKERS": closed, "EGISZ_KAFKA_DIAL_TIMEOUT": "2s"}, "cannot reach Kafka at " + closed},
		{"dlq: unknown state", []string{"dlq", "list", "--state", "lost"}, nil, `state "lost" is not one of parked, replayed, purged`},
		{"dlq: bad time", []string{"dlq", "replay", "--since", "yesterday"}, nil, `--since "yesterday": use an RFC 3339 time`},
		{"dlq: bad id", []string{"dlq", "replay", "--id", "egisz.dlq.remd/x/1"}, nil, "partition and offset must be whole numbers"},
		{"dlq: show without an id", []string{"dlq", "show"}, nil, "give one record id"},
		{"dlq: unknown command", []string{"dlq", "drop"}, nil, `unknown command "drop"`},
		{"admin API without users", []string{"run"}, map[string]string{"EGISZ_ADMIN_ENABLED": "true"}, "admin.users_file: required"},
		{"admin API in the open without TLS", []string{"run"}, map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/etc/u", "EGISZ_ADMIN_LISTEN": "0.0.0.0:9465"}, "admin.listen: 0.0.0.0:9465 is not a loopback address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr testtool.Buffer
			getenv := func(k string) string { return tc.env[k] }
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code := run(ctx, tc.args, &stdout, &stderr, getenv)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr holds a stack trace:\n%s", stderr.String())
			}
		})
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"dev", "--help"}, {"run", "--help"}, {"version", "--help"},
		{"topics", "--help"}, {"topics", "list", "--help"}, {"topics", "ensure", "--help"},
		{"topics", "asyncapi", "--help"}, {"topics", "schemas", "--help"}, {"reasons", "--help"},
		{"dlq", "--help"}, {"dlq", "list", "--help"}, {"dlq", "show", "--help"}, {"dlq", "replay", "--help"}, {"dlq", "purge", "--help"},
		{"certificates", "--help"},
		{"document-event", "--help"},
	} {
		var stdout, stderr testtool.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, noEnv); code != exitOK {
			t.Errorf("%v: exit %d, stderr %s", args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Usage: egisz-gateway") {
			t.Errorf("%v: no usage on stdout:\n%s", args, stdout.String())
		}
	}
}

func TestTopicsEnsureAgainstDev(t *testing.T) {
	d := startDev(t)
	d.waitReady(t, 30*time.Second)
	var stdout, stderr testtool.Buffer
	getenv := func(k string) string { return map[string]string{"EGISZ_KAFKA_BROKERS": d.broker}[k] }
	if code := run(context.Background(), []string{"topics", "ensure"}, &stdout, &stderr, getenv); code != exitOK {
		t.Fatalf("topics ensure: exit %d\n%s", code, stderr.String())
	}
	if got, want := strings.Count(stdout.String(), "present  "), len(topics.Default()); got != want {
		t.Fatalf("topics ensure on a ready dev stack: %d present, want %d\n%s", got, want, stdout.String())
	}
	// Drift: a hand-made topic under another prefix with too few partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, "x."+topics.StatusTopic); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = testtool.Buffer{}, testtool.Buffer{}
	getenv2 := func(k string) string {
		return map[string]string{"EGISZ_KAFKA_BROKERS": d.broker, "EGISZ_TOPIC_PREFIX": "x."}[k]
	}
	if code := run(context.Background(), []string{"topics", "ensure"}, &stdout, &stderr, getenv2); code != exitFailed {
		t.Fatalf("drift: exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr.String(), "topic x.egisz.status.v1: partitions is 1 on the cluster, the catalog says 6") {
		t.Fatalf("drift not named:\n%s", stderr.String())
	}
}

func TestReasonsPrintsTheCatalog(t *testing.T) {
	var stdout, stderr testtool.Buffer
	if code := run(context.Background(), []string{"reasons"}, &stdout, &stderr, noEnv); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{`SNILS_CHECKSUM\s+clinic\s+park\s+Неверная контрольная сумма СНИЛС / SNILS checksum`,
		`CA_INACCESSIBILITY\s+registry\s+retry`, `NOT_UNIQUE_PROVIDED_ID\s+mis\s+reconcile`} {
		if !regexp.MustCompile(want).MatchString(stdout.String()) {
			t.Errorf("reasons output lacks %s", want)
		}
	}
	stdout = testtool.Buffer{}
	if code := run(context.Background(), []string{"reasons", "--json", "--owner", "integrator"}, &stdout, &stderr, noEnv); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rows []struct{ Code, Owner string }
	if err := json.Unmarshal([]byte(stdout.String()), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("json output: %v %q", err, stdout.String())
	}
	for _, r := range rows {
		if r.Owner != "integrator" {
			t.Errorf("--owner integrator printed %s of %s", r.Code, r.Owner)
		}
	}
	if code := run(context.Background(), []string{"reasons", "--owner", "nobody"}, &stdout, &stderr, noEnv); code != exitUsage {
		t.Errorf("unknown owner: exit %d", code)
	}
}

// TestREADMEDLQCommandsParse: every `egisz-gateway dlq` line of the README
// has flags the command knows; each gets as far as dialling Kafka.
func TestREADMEDLQCommandsParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	closed := testtool.FreeAddr(t)
	getenv := func(k string) string {
		return map[string]string{"EGISZ_KAFKA_BROKERS": closed, "EGISZ_KAFKA_DIAL_TIMEOUT": "1s"}[k]
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		cmdline, ok := strings.CutPrefix(line, "egisz-gateway dlq ")
		if !ok {
			continue
		}
		if i := strings.Index(cmdline, "  #"); i >= 0 {
			cmdline = cmdline[:i]
		}
		args := append([]string{"dlq"}, shellWords(cmdline)...)
		n++
		var stdout, stderr testtool.Buffer
		code := run(context.Background(), args, &stdout, &stderr, getenv)
		if code != exitUsage || !strings.Contains(stderr.String(), "cannot reach Kafka") {
			t.Errorf("README: egisz-gateway dlq %s: exit %d, %s", cmdline, code, stderr.String())
		}
	}
	if n < 5 {
		t.Errorf("found %d dlq commands in the README", n)
	}
}

// shellWords splits a command line as a shell does for the README's
// examples: on spaces, with double quotes around an argument with spaces.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// TestDevDemoShowsEventsFlow: with --demo, the dev stack's metrics soon
// show events accepted, refused and deduplicated, and registered.
// TestDevDemoShowsEventsFlow: dev's demo traffic flows to every outcome,
// РЭМД's results included: they come back over the callback's mTLS with
// the throwaway PKI dev issued, with nothing set up; a caller without its
// client certificate is refused.
func TestDevDemoShowsEventsFlow(t *testing.T) {
	callback := testtool.FreeAddr(t)
	d := startDev(t, "--demo", "--demo-rate", "100", "--callback", callback)
	d.waitReady(t, 30*time.Second)
	want := []string{
		`egisz_normalize_outcomes_total{outcome="new"`, `egisz_normalize_outcomes_total{outcome="duplicate"`,
		`egisz_normalize_outcomes_total{outcome="rejected"`, `egisz_forward_outcomes_total{outcome="registered"`,
		`egisz_remd_callbacks_total{result="registered"`,
	}
	var missing []string
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get("http://" + d.http + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for _, w := range want {
			if !metricAbove0(string(b), w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("after 40 s of demo traffic, no %v\n%s", missing, d.stderr.String())
	}
	// Anyone else: TLS, but no client certificate of dev's CA.
	forger := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := forger.Post("https://"+callback+"/emdr/callback", "application/json", strings.NewReader(`{"response_to_request_id":"x","status":"success","emdr_id":"1"}`))
	if err != nil {
		t.Fatalf("the callback endpoint: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a callback without a client certificate answered %d, want 401", resp.StatusCode)
	}
	if resp, err := http.Post("http://"+d.http+"/emdr/callback", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the metrics listener still takes callbacks")
		}
	}
	if !strings.Contains(d.stderr.String(), "demo traffic starting") {
		t.Errorf("the log does not say the demo started:\n%s", d.stderr.String())
	}
	if code := d.stop(t); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// metricAbove0 reports whether a series starting with prefix (its name and
// first label) has a value above 0.
func metricAbove0(text, prefix string) bool {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, strings.SplitN(prefix, "{", 2)[0]+"{") || !strings.Contains(line, strings.SplitN(prefix, "{", 2)[1]) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil && v > 0 {
			return true
		}
	}
	return false
}
