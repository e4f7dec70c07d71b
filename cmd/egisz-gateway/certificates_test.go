package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/certseen"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func TestParseDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"72h", 72 * time.Hour, true},
		{"0d", 0, false},
		{"-3d", 0, false},
		{"d", 0, false},
		{"thirty", 0, false},
	} {
		got, err := parseDays(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDays(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestDevCertificatesExpiring publishes to dev's ФРМР feed the example
// doctor with a certificate ending in 10 days and the laboratory doctor
// with one ending in 60, and to the certificates seen in documents one of
// the clinic's ending in 5 days, one in 45, and the doctor's own again; it
// wants the gauge and the listing (masked, then revealed and audited) to
// count the 10- and 5-day ones under the clinic, each once.
func TestDevCertificatesExpiring(t *testing.T) {
	d := startDev(t)
	d.waitReady(t, 30*time.Second)
	now := time.Now()
	withCert := func(example string, ends time.Duration) (string, []byte) {
		var e topics.Employee
		if err := json.Unmarshal(topics.Example(example), &e); err != nil {
			t.Fatal(err)
		}
		e.Certificates = []topics.Certificate{{Serial: "ends-" + example, Issuer: "Казначейство России",
			NotBefore: topics.DateTime(now.Add(-365 * 24 * time.Hour).Format(time.RFC3339)), NotAfter: topics.DateTime(now.Add(ends).Format(time.RFC3339))}}
		b, _ := json.Marshal(e)
		return normalizedSNILS(e.SNILS), b
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	k1, v1 := withCert("employee.json", 10*24*time.Hour)
	k2, v2 := withCert("employee_lab.json", 60*24*time.Hour)
	const mo = "1.2.643.5.1.13.13.12.1.42.202"
	seen := func(fingerprint, serial, issuer string, ends time.Duration) *kgo.Record {
		c := topics.SeenCertificate{SHA256: strings.Repeat(fingerprint, 64), MOOID: mo, Role: "doctor", Serial: serial, Issuer: issuer,
			NotBefore: topics.DateTime(now.Add(-365 * 24 * time.Hour).UTC().Format(time.RFC3339)), NotAfter: topics.DateTime(now.Add(ends).UTC().Format(time.RFC3339)),
			Holder: "И*** М***", SeenAt: topics.DateTime(now.UTC().Format(time.RFC3339))}
		b, _ := json.Marshal(c)
		return &kgo.Record{Topic: topics.CertificateSeen, Key: []byte(certseen.Key(c.SHA256, mo)), Value: b}
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topics.FRMREmployee, Key: []byte(k1), Value: v1},
		&kgo.Record{Topic: topics.FRMREmployee, Key: []byte(k2), Value: v2},
		seen("a", "5eeee5", "Казначейство России", 5*24*time.Hour),
		seen("b", "45eeee", "Казначейство России", 45*24*time.Hour),
		seen("c", "ends-employee.json", "CN=Казначейство России,O=Федеральное казначейство,C=RU", 10*24*time.Hour),
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	want := []string{`egisz_certificates_expiring{mo_oid="` + mo + `",within="30d"} 2`, `egisz_certificates_expiring{mo_oid="` + mo + `",within="14d"} 2`,
		`egisz_certificates_expiring{mo_oid="` + mo + `",within="7d"} 1`}
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + d.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if metrics = string(b); strings.Contains(metrics, want[0]) {
			break
		}
	}
	for _, w := range want {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if !strings.Contains(metrics, `egisz_certificates_expiring{mo_oid="1.2.643.5.1.13.13.12.1.42.310",within="30d"} 0`) {
		t.Errorf("/metrics does not give the laboratory, whose certificate ends in 60 days, 0 within 30d")
	}

	getenv := func(k string) string {
		return map[string]string{"EGISZ_KAFKA_BROKERS": d.broker, "EGISZ_ACTOR": "cert-test"}[k]
	}
	list := func(args ...string) string {
		var stdout, stderr testtool.Buffer
		if code := run(context.Background(), append([]string{"certificates"}, args...), &stdout, &stderr, getenv); code != exitOK {
			t.Fatalf("certificates %v: exit %d\n%s", args, code, stderr.String())
		}
		return stdout.String()
	}
	masked := list("--expiring", "30d")
	for _, w := range []string{mo + "\n", "frmr      serial ends-employee.json  П*** А*** С*** (СНИЛС 123-***-*** 64)", "document  serial 5eeee5  И*** М*** (doctor)", "2 certificates"} {
		if !strings.Contains(masked, w) {
			t.Errorf("certificates --expiring 30d lacks %q:\n%s", w, masked)
		}
	}
	for _, no := range []string{"Петров", "12345678964", "ends-employee_lab.json", "45eeee", "document  serial ends-employee.json"} {
		if strings.Contains(masked, no) {
			t.Errorf("certificates --expiring 30d shows %q:\n%s", no, masked)
		}
	}
	if out := list("--expiring", "7d"); !strings.Contains(out, "1 certificates") || !strings.Contains(out, "serial 5eeee5") {
		t.Errorf("certificates --expiring 7d:\n%s", out)
	}
	if out := list("--expiring", "90d", "--mo", "1.2.643.5.1.13.13.12.1.42.310"); !strings.Contains(out, "ends-employee_lab.json") || strings.Contains(out, "ends-employee.json") {
		t.Errorf("certificates --expiring 90d --mo <lab>:\n%s", out)
	}
	revealed := list("--expiring", "30d", "--reveal")
	if !strings.Contains(revealed, "Петров Алексей Сергеевич (СНИЛС 12345678964)") || !strings.Contains(revealed, "document  serial 5eeee5  И*** М*** (doctor)") {
		t.Errorf("certificates --reveal does not show the name:\n%s", revealed)
	}
	// The reveal is audited.
	audit, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.ConsumeTopics(topics.AuditTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found := false
	for !found && ctx.Err() == nil {
		audit.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var rec topics.AuditRecord
			if json.Unmarshal(r.Value, &rec) == nil && rec.Action == "reveal" && strings.HasPrefix(rec.Filter, "certificates") && strings.Contains(rec.Actor, "cert-test") {
				found = true
			}
		})
	}
	if !found {
		t.Error("no audit record of the reveal")
	}
}

// decodeSeen takes the catalog's example under its documented key, a
// tombstone, and skips what the stage would not have written.
func TestDecodeSeen(t *testing.T) {
	tp, _ := topics.Default().Lookup(topics.CertificateSeen)
	ex := tp.Examples[0]
	value := topics.Example(ex.File)
	for _, tc := range []struct {
		name       string
		key, value []byte
		ok, entry  bool
	}{
		{"the example", []byte(ex.Key), value, true, true},
		{"a tombstone", []byte(ex.Key), nil, true, false},
		{"keyed for another clinic", []byte(strings.Replace(ex.Key, ".202", ".117", 1)), value, false, false},
		{"not JSON", []byte(ex.Key), []byte("{"), false, false},
		{"no clinic", []byte(strings.Split(ex.Key, "|")[0] + "|"), []byte(`{"sha256":"` + strings.Split(ex.Key, "|")[0] + `"}`), false, false},
	} {
		k, v, ok := decodeSeen(tc.key, tc.value, nil)
		if ok != tc.ok || (v != nil) != tc.entry || (ok && k != string(tc.key)) {
			t.Errorf("%s: %q, %+v, %v", tc.name, k, v, ok)
		}
	}
}

// The gauge counts both tables once both are loaded, nothing while the
// seen table loads, and ФРМР's alone when the seen topic is missing.
func TestCertificatesCollectorSources(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.FRMREmployee, topics.CertificateSeen))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	const mo = "1.2.643.5.1.13.13.12.1.42.202"
	var emp topics.Employee
	if err := json.Unmarshal(topics.Example("employee.json"), &emp); err != nil {
		t.Fatal(err)
	}
	emp.Certificates = []topics.Certificate{{Serial: "f1", NotBefore: "2026-03-01T00:00:00Z", NotAfter: "2027-03-11T09:00:00Z"}}
	empValue, _ := json.Marshal(emp)
	doc := topics.SeenCertificate{SHA256: strings.Repeat("d", 64), MOOID: mo, Role: "doctor", Serial: "d5", NotBefore: "2026-03-01T00:00:00Z",
		NotAfter: "2027-03-06T09:00:00Z", Holder: "И*** М***", SeenAt: "2027-02-28T09:00:00Z"}
	docValue, _ := json.Marshal(doc)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.FRMREmployee, Key: []byte(normalizedSNILS(emp.SNILS)), Value: empValue},
		&kgo.Record{Topic: topics.CertificateSeen, Key: []byte(certseen.Key(doc.SHA256, mo)), Value: docValue}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	employees := reftable.New("frmr", topics.FRMREmployee, feedDecoder[*topics.Employee](frmr.NewEmployees(source.DefaultOptions()), normalizedSNILS), log)
	seen := newSeenTable("", log)
	gauge := func() map[string]float64 {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(newCertificatesCollector(employees, seen, func() time.Time { return now }))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				out[labels["mo_oid"]+" "+labels["within"]] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = employees.Run(runCtx, opts) }()
	<-employees.Loaded()
	if got := gauge(); len(got) != 0 {
		t.Errorf("the seen table is loading: %v, want nothing", got)
	}
	go func() { _ = seen.Run(runCtx, opts) }()
	<-seen.Loaded()
	for absent, want := range map[bool]map[string]float64{
		false: {mo + " 30d": 2, mo + " 14d": 2, mo + " 7d": 1},
		true:  {mo + " 30d": 1, mo + " 14d": 1, mo + " 7d": 0},
	} {
		seen.absent.Store(absent)
		if got := gauge(); !maps.Equal(got, want) {
			t.Errorf("seen topic absent %v: %v, want %v", absent, got, want)
		}
	}
}
