package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/egisz-gateway/egisz-gateway/adapters/certexpiry"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// employeesEach yields the ФРМР table's records, for certexpiry.
func employeesEach(t *reftable.Table[*topics.Employee]) func(func(*topics.Employee) bool) {
	return func(f func(*topics.Employee) bool) {
		t.Range(func(_ string, e *topics.Employee) bool { return f(e) })
	}
}

// certificatesCollector exposes egisz_certificates_expiring{mo_oid,within}
// from the ФРМР table at each scrape: the count by clinic of signing
// certificates that end within 30, 14 and 7 days. The labels hold no
// personal data: a clinic's OID and the window. Every instance holds the
// whole table and reports the same values (alert on max by mo_oid).
type certificatesCollector struct {
	employees *reftable.Table[*topics.Employee]
	now       func() time.Time
	desc      *prometheus.Desc
}

func newCertificatesCollector(employees *reftable.Table[*topics.Employee], now func() time.Time) certificatesCollector {
	if now == nil {
		now = time.Now
	}
	return certificatesCollector{employees: employees, now: now, desc: prometheus.NewDesc("egisz_certificates_expiring",
		"Signing certificates ФРМР lists for a clinic's workers (a post there today) that end within 30, 14 or 7 days (within: 30d, 14d, 7d; cumulative).",
		[]string{"mo_oid", "within"}, nil)}
}

func (c certificatesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reports nothing until the table is loaded: counts from half a
// feed would look like certificates renewed.
func (c certificatesCollector) Collect(ch chan<- prometheus.Metric) {
	if c.employees.Ready() != nil {
		return
	}
	for mo, byWindow := range certexpiry.Count(employeesEach(c.employees), c.now()) {
		for within, n := range byWindow {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), mo, within)
		}
	}
}

const certificatesUsage = `Usage: egisz-gateway certificates --expiring 30d [flags]

Lists the signing certificates ФРМР lists for medical workers that end within the given time,
by clinic (each clinic where the holder has a post today), read from the ФРМР topic
(egisz.frmr.employee.v1). Names and СНИЛС are masked unless --reveal, which is for operators and
auditors and is written to egisz.audit.v1 first. The gauge egisz_certificates_expiring and the
alert EgiszCertificatesExpiring say the same by count.

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
	table := reftable.New("frmr", cfg.Kafka.TopicPrefix+topics.FRMREmployee,
		feedDecoder[*topics.Employee](frmr.NewEmployees(source.DefaultOptions()), normalizedSNILS), newLogger(io.Discard, cfg.Log.Level, cfg.Log.Format))
	readCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- table.Run(readCtx, opts) }()
	select {
	case <-table.Loaded():
	case err := <-done:
		stop()
		fmt.Fprintf(stderr, "egisz-gateway certificates: read %s: %v\n", topics.FRMREmployee, cmpErr(err, errors.New("stopped before the end")))
		return exitFailed
	case <-ctx.Done():
		stop()
		<-done
		return exitFailed
	}
	list := certexpiry.Find(employeesEach(table), time.Now(), within)
	stop()
	<-done
	printCertificates(stdout, list, *mo, *reveal)
	return exitOK
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
		who := workerName(x.Worker, reveal)
		days := int((time.Until(x.NotAfter).Hours() + 12) / 24) // to the nearest day
		fmt.Fprintf(w, "  %s  in %3d d  serial %s  %s\n", x.NotAfter.In(time.UTC).Format("2006-01-02 15:04Z"), days, x.Serial, who)
		n++
	}
	fmt.Fprintf(w, "%d certificates\n", n)
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
