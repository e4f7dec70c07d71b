package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

var metricName = regexp.MustCompile(`\begisz_[a-z0-9_]+`)

// usedMetrics lists the gateway metrics the alert rules and the dashboard read.
func usedMetrics(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range []string{"prometheus/alerts.yml", "grafana/egisz-gateway.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricName.FindAllString(string(b), -1) {
			seen[m] = true
		}
	}
	var out []string
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// TestDashboardIsWellFormed: the dashboard parses, has a row per stage,
// and every panel queries something.
func TestDashboardIsWellFormed(t *testing.T) {
	b, err := os.ReadFile("grafana/egisz-gateway.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	for _, stage := range []string{"Normalize", "Forward", "РЭМД", "Dead letters", "Kafka"} {
		found := false
		for _, r := range rows {
			found = found || strings.Contains(r, stage)
		}
		if !found {
			t.Errorf("no dashboard row for %s (rows %q)", stage, rows)
		}
	}
}

// TestPrometheusScrapesDev runs `egisz-gateway dev`, feeds it the
// examples and a broken record, lets a real Prometheus (the Debian
// package) scrape it with the shipped alert rules loaded, and queries
// every metric the rules and the dashboard use.
func TestPrometheusScrapesDev(t *testing.T) {
	prom := testtool.Require(t, "prometheus")
	bin := filepath.Join(t.TempDir(), "egisz-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/egisz-gateway").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	broker, httpAddr, emu, promAddr := testtool.FreeAddr(t), testtool.FreeAddr(t), testtool.FreeAddr(t), testtool.FreeAddr(t)
	dev := exec.Command(bin, "dev", "--broker", broker, "--http", httpAddr, "--emulator", emu)
	dev.Env = append(os.Environ(), "EGISZ_LOG_LEVEL=warn")
	dev.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	devLog := &testtool.Buffer{}
	dev.Stderr = devLog
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dev.Process.Signal(syscall.SIGTERM); _ = dev.Wait() }()
	waitHTTP(t, "http://"+httpAddr+"/readyz", 30*time.Second, func() string { return devLog.String() })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for name, topic := range map[string]string{"case.json": topics.RMISCase, "document.json": topics.RMISDocument, "prescription.json": topics.RMISPrescription} {
		tp, _ := topics.Default().Lookup(topic)
		r := &kgo.Record{Topic: topic, Key: []byte("11223344595"), Value: topics.Example(name), Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("scrape-" + name)},
			{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte(tp.EventType)},
		}}
		bad := &kgo.Record{Topic: topic, Key: r.Key, Value: []byte("not json"), Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("scrape-bad-" + name)},
			{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte(tp.EventType)},
		}}
		if err := cl.ProduceSync(ctx, r, bad).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	rules, _ := filepath.Abs("prometheus/alerts.yml")
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: egisz-gateway
    static_configs: [{targets: [%q]}]
`, rules, httpAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	p.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	promLog := &testtool.Buffer{}
	p.Stderr = promLog
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Process.Signal(syscall.SIGTERM); _ = p.Wait() }()
	waitHTTP(t, "http://"+promAddr+"/-/ready", 30*time.Second, func() string { return promLog.String() })

	query := func(q string) int {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []json.RawMessage }
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
			t.Fatalf("query %s: %v %s", q, err, r.Status)
		}
		return len(r.Data.Result)
	}
	want := append([]string{`up{job="egisz-gateway"} == 1`, `egisz_ready == 1`, `egisz_forward_outcomes_total{outcome="registered"}`,
		`egisz_dlq_records_total{topic="egisz.dlq.ingress",reason="DECODE_NOT_JSON",owner="mis"}`}, usedMetrics(t)...)
	missing := want
	for deadline := time.Now().Add(45 * time.Second); len(missing) > 0 && time.Now().Before(deadline); time.Sleep(time.Second) {
		var still []string
		for _, q := range missing {
			if query(q) == 0 {
				still = append(still, q)
			}
		}
		missing = still
	}
	if len(missing) > 0 {
		t.Fatalf("Prometheus has no series for %q\ngateway log:\n%s", missing, devLog.String())
	}
	resp, err := http.Get("http://" + promAddr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rr struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Health, LastError string }
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil || len(rr.Data.Groups) == 0 {
		t.Fatalf("rules API: %v", err)
	}
	for _, r := range rr.Data.Groups[0].Rules {
		if r.Health == "err" {
			t.Errorf("rule %s fails in Prometheus: %s", r.Name, r.LastError)
		}
	}
	t.Logf("a real Prometheus scraped dev and holds all %d metrics the rules and the dashboard use", len(usedMetrics(t)))
}

func waitHTTP(t *testing.T, u string, within time.Duration, log func() string) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s not ready within %s\n%s", u, within, log())
}
