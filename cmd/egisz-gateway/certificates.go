package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/certexpiry"
	"github.com/egisz-gateway/egisz-gateway/adapters/certseen"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// rangeOf yields a reference table's records, for certexpiry.
func rangeOf[V any](t *reftable.Table[V]) func(func(V) bool) {
	return func(f func(V) bool) {
		t.Range(func(_ string, v V) bool { return f(v) })
	}
}

// seenTable is the table of certificates seen in documents
// (topics.CertificateSeen), and whether its topic is missing: a deployment
// upgraded without `topics ensure` counts ФРМР's certificates alone.
type seenTable struct {
	*reftable.Table[*topics.SeenCertificate]
	absent *atomic.Bool
}

func newSeenTable(prefix string, log *slog.Logger) seenTable {
	return seenTable{reftable.New("certificates-seen", prefix+topics.CertificateSeen, decodeSeen, log), &atomic.Bool{}}
}

// decodeSeen reads a record of the certificates seen in documents; one
// whose key is not its certificate's and clinic's is skipped (counted).
func decodeSeen(key, value []byte, _ map[string]string) (string, *topics.SeenCertificate, bool) {
	if value == nil {
		return string(key), nil, true
	}
	var c topics.SeenCertificate
	if err := json.Unmarshal(value, &c); err != nil || c.MOOID == "" || certseen.Key(c.SHA256, c.MOOID) != string(key) {
		return "", nil, false
	}
	return string(key), &c, true
}

// certificateSources are the tables certexpiry looks through, and whether both are
// loaded: counts from half a feed would look like certificates renewed.
func certificateSources(employees *reftable.Table[*topics.Employee], seen seenTable) (certexpiry.Sources, bool) {
	src := certexpiry.Sources{Employees: rangeOf(employees)}
	if employees.Ready() != nil {
		return src, false
	}
	if seen.absent.Load() {
		return src, true
	}
	if seen.Ready() != nil {
		return src, false
	}
	src.Seen = rangeOf(seen.Table)
	return src, true
}

// certificatesCollector exposes egisz_certificates_expiring{mo_oid,within}
// at each scrape: the count by clinic of signing certificates, from ФРМР
// and seen in documents, that end within 30, 14 and 7 days. The labels
// hold no personal data: a clinic's OID and the window. Every instance
// holds both whole tables and reports the same values (alert on max by
// mo_oid).
type certificatesCollector struct {
	employees *reftable.Table[*topics.Employee]
	seen      seenTable
	now       func() time.Time
	desc      *prometheus.Desc
}

func newCertificatesCollector(employees *reftable.Table[*topics.Employee], seen seenTable, now func() time.Time) certificatesCollector {
	if now == nil {
		now = time.Now
	}
	return certificatesCollector{employees: employees, seen: seen, now: now, desc: prometheus.NewDesc("egisz_certificates_expiring",
		"Signing certificates of a clinic that end within 30, 14 or 7 days (within: 30d, 14d, 7d; cumulative): those ФРМР lists for its workers (a post there today) and those seen signing its accepted documents, each once.",
		[]string{"mo_oid", "within"}, nil)}
}

func (c certificatesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reports nothing until the tables are loaded.
func (c certificatesCollector) Collect(ch chan<- prometheus.Metric) {
	src, ok := certificateSources(c.employees, c.seen)
	if !ok {
		return
	}
	for mo, byWindow := range certexpiry.Count(src, c.now()) {
		for within, n := range byWindow {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), mo, within)
		}
	}
}

const certificatesUsage = `Usage: egisz-gateway certificates --expiring 30d [flags]

Lists the signing certificates that end within the given time, by clinic: those ФРМР lists for
medical workers (egisz.frmr.employee.v1; under each clinic where the holder has a post today),
source frmr, and those seen signing the clinic's accepted documents in the last 7 days
(egisz.certificate.seen.v1), source document; a certificate both know is listed once, as frmr.
ФРМР's names and СНИЛС are masked unless --reveal, which is for operators and auditors and is
written to egisz.audit.v1 first; of a certificate seen in a document the gateway keeps only a
masked holder, which --reveal cannot undo. The gauge egisz_certificates_expiring and the alert
EgiszCertificatesExpiring say the same by count.

Flags:
`

func cmdCertificates(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("certificates", certificatesUsage, stdout, stderr)
	cfgPath := configFlag(fs)
	expiring := fs.String("expiring", "30d", "list certificates that end within this time: days (30d) or a Go duration (72h)")
	mo := fs.String("mo", "", "only this clinic's OID")
	reveal := fs.Bool("reveal", false, "show names and СНИЛС (operators and auditors; audited)")
	actor := fs.String("actor", "", "your name for the audit log, beside the Kafka user that runs the command (also $EGISZ_ACTOR)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	within, err := parseDays(*expiring)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway certificates: --expiring: %v\n", err)
		return exitUsage
	}
	cfg, ok := loadConfig(*cfgPath, getenv, stderr)
	if !ok {
		return exitUsage
	}
	opts, err := kafkaclient.Options(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway certificates: %v\n", err)
		return exitUsage
	}
	if *reveal {
		// The audit record comes first: no reveal without its trace. The
		// CLI acts as an operator, as dlq does with the Kafka credentials.
		svc, err := newDLQService(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway certificates: %v\n", err)
			return exitUsage
		}
		who := dlq.Actor{Name: cliActor(*actor, getenv, cfg.Kafka.SASL.Username), Role: dlq.RoleOperator, Via: "cli"}
		err = svc.Authorize(ctx, who, dlq.ActReveal)
		if err == nil {
			err = svc.Audit(ctx, who, topics.AuditRecord{Action: string(dlq.ActReveal), Filter: "certificates expiring=" + *expiring + " mo=" + *mo, Outcome: "ok"})
		}
		svc.Close()
		if err != nil {
			fmt.Fprintf(stderr, "egisz-gateway certificates: %v\n", err)
			return exitFailed
		}
	}
	log := newLogger(io.Discard, cfg.Log.Level, cfg.Log.Format)
	table := reftable.New("frmr", cfg.Kafka.TopicPrefix+topics.FRMREmployee,
		feedDecoder[*topics.Employee](frmr.NewEmployees(source.DefaultOptions()), normalizedSNILS), log)
	seen := newSeenTable(cfg.Kafka.TopicPrefix, log)
	readCtx, stop := context.WithCancel(ctx)
	frmrDone, seenDone := make(chan error, 1), make(chan error, 1)
	go func() { frmrDone <- table.Run(readCtx, opts) }()
	go func() { seenDone <- runSeen(readCtx, seen, opts, log) }()
	frmrEnded, seenEnded := false, false
	finish := func() {
		stop()
		if !frmrEnded {
			<-frmrDone
		}
		if !seenEnded {
			<-seenDone
		}
	}
	if frmrEnded, err = loadedOrEnded(ctx, table.Loaded(), frmrDone); err != nil || frmrEnded {
		finish()
		fmt.Fprintf(stderr, "egisz-gateway certificates: read %s: %v\n", topics.FRMREmployee, cmpErr(err, errors.New("stopped before the end")))
		return exitFailed
	}
	if seenEnded, err = loadedOrEnded(ctx, seen.Loaded(), seenDone); err != nil || (seenEnded && !seen.absent.Load()) {
		finish()
		fmt.Fprintf(stderr, "egisz-gateway certificates: read %s: %v\n", topics.CertificateSeen, cmpErr(err, errors.New("stopped before the end")))
		return exitFailed
	}
	if seenEnded {
		fmt.Fprintf(stderr, "egisz-gateway certificates: %s does not exist (run `egisz-gateway topics ensure`): listing ФРМР's certificates only\n", topics.CertificateSeen)
	}
	src, _ := certificateSources(table, seen)
	list := certexpiry.Find(src, time.Now(), within)
	finish()
	printCertificates(stdout, list, *mo, *reveal)
	return exitOK
}

// loadedOrEnded waits until a table is loaded, or its Run (done) ends
// first: ended, with Run's error; or ctx ends, with its error.
func loadedOrEnded(ctx context.Context, loaded <-chan struct{}, done <-chan error) (ended bool, err error) {
	select {
	case <-loaded:
		return false, nil
	case err := <-done:
		return true, err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// runSeen follows the certificates seen in documents. A deployment
// upgraded without `topics ensure` has no such topic: the count is then of
// ФРМР's certificates alone, with a warning, rather than none at all.
func runSeen(ctx context.Context, seen seenTable, opts []kgo.Opt, log *slog.Logger) error {
	err := seen.Run(ctx, opts)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		seen.absent.Store(true)
		log.Warn("certificates seen in documents are not counted: their topic does not exist; run `egisz-gateway topics ensure` to create it", "topic", topics.CertificateSeen, "err", err)
		return nil
	}
	return err
}

// cmpErr is err, or other when err is nil.
func cmpErr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// printCertificates writes the list grouped by clinic.
func printCertificates(w io.Writer, list []certexpiry.Expiring, mo string, reveal bool) {
	n, last := 0, ""
	for _, x := range list {
		if mo != "" && x.MOOID != mo {
			continue
		}
		if x.MOOID != last {
			fmt.Fprintf(w, "%s\n", x.MOOID)
			last = x.MOOID
		}
		days := int((time.Until(x.NotAfter).Hours() + 12) / 24) // to the nearest day
		fmt.Fprintf(w, "  %s  in %3d d  %-8s  serial %s  %s\n", x.NotAfter.In(time.UTC).Format("2006-01-02 15:04Z"), days, x.Source, x.Serial, holderOf(x, reveal))
		n++
	}
	fmt.Fprintf(w, "%d certificates\n", n)
}

// holderOf names a certificate's holder: ФРМР's worker, masked unless
// revealed; for a certificate seen in a document, the masked label the
// gateway kept, and the signer's role.
func holderOf(x certexpiry.Expiring, reveal bool) string {
	switch {
	case x.Worker != nil:
		return workerName(x.Worker, reveal)
	case x.Seen != nil:
		return x.Seen.Holder + " (" + x.Seen.Role + ")"
	}
	return ""
}

// workerName is the holder's name and СНИЛС, masked unless revealed.
func workerName(e *topics.Employee, reveal bool) string {
	parts := []string{e.FamilyName, e.GivenName, e.Patronymic}
	snils := e.SNILS
	if !reveal {
		for i := range parts {
			parts[i] = dlq.MaskName(parts[i])
		}
		snils = ident.MaskSNILS(snils)
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ") + " (СНИЛС " + snils + ")"
}

// parseDays reads 30d as 30 days, anything else as a Go duration.
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q: expected days such as 30d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: expected days such as 30d or a duration such as 72h", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}
