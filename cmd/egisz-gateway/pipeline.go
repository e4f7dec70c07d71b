package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/frmo"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/infosys"
	adnormalize "github.com/egisz-gateway/egisz-gateway/adapters/normalize"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/normalize"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// pipeline lists the stages the gateway runs. This is where the domain
// (adapters) meets the runtime (gateway): the runtime asks through
// interfaces, and these few types answer them with the adapters.
func pipeline() []app.WorkerFactory {
	return []app.WorkerFactory{newNormalize, forwardStages, adminAPI}
}

// references are the ФРМР, ФРМО and information systems feeds as global tables.
type references struct {
	employees     *reftable.Table[*topics.Employee]
	organizations *reftable.Table[*topics.Organization]
	systems       *reftable.Table[*topics.InformationSystem]
	// systemsAbsent is set when the systems topic does not exist (a
	// deployment upgraded without `topics ensure`): the check is then off
	// and the stage does not wait for the table.
	systemsAbsent *atomic.Bool
}

// System looks up an information system by the ce_source its events carry.
func (r references) System(ceSource string) (*topics.InformationSystem, bool) {
	return r.systems.Get(ceSource)
}

// Systems is how many systems the feed holds: none turns the binding check off.
func (r references) Systems() int { return r.systems.Len() }

func (r references) Employee(snils string) (*topics.Employee, bool) { return r.employees.Get(snils) }
func (r references) Organization(oid string) (*topics.Organization, bool) {
	return r.organizations.Get(oid)
}
func (r references) Ready() error {
	systems := r.systems.Ready()
	if r.systemsAbsent != nil && r.systemsAbsent.Load() {
		systems = nil
	}
	return errors.Join(r.employees.Ready(), r.organizations.Ready(), systems)
}

// feedDecoder turns a reference feed record into a table entry through the
// feed's adapter; a record the adapter rejects is skipped and counted.
func feedDecoder[V any](a source.Adapter, normKey func(string) string) reftable.Decode[V] {
	return func(key, value []byte, headers map[string]string) (string, V, bool) {
		var zero V
		if value == nil {
			return normKey(string(key)), zero, true // a tombstone
		}
		meta := source.Meta{SpecVersion: headers[topics.HeaderSpecVersion], ID: headers[topics.HeaderID], Source: headers[topics.HeaderSource], Type: headers[topics.HeaderType]}
		if meta.SpecVersion == "" {
			meta.SpecVersion = source.SpecVersion
		}
		if meta.Type == "" {
			meta.Type = a.EventType() // reference feeds often come without CloudEvents headers
		}
		if meta.ID == "" {
			meta.ID = "feed"
		}
		if meta.Source == "" {
			meta.Source = "feed"
		}
		ev, rej := a.Decode(meta, value)
		if rej != nil {
			return "", zero, false
		}
		// A record keyed by one СНИЛС (or OID) with another in its
		// content would set the second and leave the first to its
		// tombstone: refused, the reference table counts and logs it.
		if k := normKey(string(key)); k != ev.PatientKey {
			return "", zero, false
		}
		v, ok := ev.Payload.(V)
		return ev.PatientKey, v, ok
	}
}

// The adapters' decider is the stage's domain, prescriptions' expiry
// included: the stage finds Timers by a type assertion, so this says at
// compile time that it is still there.
var _ interface {
	normalize.Domain
	normalize.Timers
} = adnormalize.Domain{}

// normalizedSNILS is the ФРМР table's key: the СНИЛС's 11 digits, or the
// key as it is when it is no СНИЛС (the adapter then refuses the record).
func normalizedSNILS(k string) string {
	if d, err := ident.NormalizeSNILS(k); err == nil {
		return d
	}
	return k
}

// normalizeWorker runs the reference tables beside the stage, and the
// table of certificates seen in documents for the expiry gauge (the stage
// writes it and does not read it).
type normalizeWorker struct {
	stage *normalize.Stage
	refs  references
	seen  seenTable
	deps  app.Deps
}

func (w *normalizeWorker) Name() string { return w.stage.Name() }
func (w *normalizeWorker) Ready() error { return w.stage.Ready() }

// Stats are the stage's transaction counters (egisz_stage_* metrics).
func (w *normalizeWorker) Stats() *eos.Stats { return w.stage.Stats() }
func (w *normalizeWorker) Run(ctx context.Context) error {
	errs := make(chan error, 4)
	go func() { errs <- w.refs.employees.Run(ctx, w.deps.KafkaOpt) }()
	go func() { errs <- w.refs.organizations.Run(ctx, w.deps.KafkaOpt) }()
	go func() { errs <- runSystems(ctx, w.refs, w.deps.KafkaOpt, w.deps.Log) }()
	go func() { errs <- runSeen(ctx, w.seen, w.deps.KafkaOpt, w.deps.Log) }()
	go logBindingRule(ctx, w.refs, w.deps.Log)
	runErr := w.stage.Run(ctx)
	return errors.Join(runErr, <-errs, <-errs, <-errs, <-errs)
}

// runSystems follows the systems feed. A deployment upgraded without
// `topics ensure` has no systems topic: that must not stop the stage,
// which would wait for the table for ever, so the check is turned off
// with a warning instead.
func runSystems(ctx context.Context, refs references, opts []kgo.Opt, log *slog.Logger) error {
	err := refs.systems.Run(ctx, opts)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		refs.systemsAbsent.Store(true)
		log.Warn("information system bindings off: the systems topic does not exist; run `egisz-gateway topics ensure` to create it", "topic", topics.InfoSystems, "err", err)
		return nil
	}
	return err
}

// logBindingRule says once, when the systems feed is loaded, whether the
// check of which system may send for which clinic is on: off while the
// feed is empty, which an operator who meant to turn it on must be told.
func logBindingRule(ctx context.Context, refs references, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-refs.systems.Loaded():
	}
	if n := refs.Systems(); n > 0 {
		log.Info("information system bindings on: events from a ce_source not bound to their organization are rejected (NO_RMIS, DISABLED_RMIS, RMIS_REGION_MISMATCH)", "topic", topics.InfoSystems, "systems", n)
		return
	}
	log.Info("information system bindings off: the systems feed is empty, so any ce_source may send for any organization; publish the systems to turn the check on", "topic", topics.InfoSystems)
}

func newNormalize(deps app.Deps) ([]app.Worker, error) {
	opts := source.DefaultOptions()
	opts.Limits.MaxBytes = deps.Config.Normalize.MaxRecordBytes
	opts.ClockSkew = deps.Config.Normalize.ClockSkew.D()
	if deps.Now != nil {
		opts.Now = deps.Now
	}
	prefix := deps.Config.Kafka.TopicPrefix
	refs := references{
		employees: reftable.New("frmr", prefix+topics.FRMREmployee,
			feedDecoder[*topics.Employee](frmr.NewEmployees(opts), normalizedSNILS), deps.Log).LogChanges(),
		organizations: reftable.New("frmo", prefix+topics.FRMOOrganization,
			feedDecoder[*topics.Organization](frmo.NewOrganizations(opts), func(k string) string { return k }), deps.Log).LogChanges(),
		systemsAbsent: &atomic.Bool{},
		systems: reftable.New("systems", prefix+topics.InfoSystems,
			feedDecoder[*topics.InformationSystem](infosys.NewSystems(opts), func(k string) string { return k }), deps.Log).LogChanges(),
	}
	seen := newSeenTable(prefix, deps.Log)
	for _, t := range []prometheus.Collector{refs.employees.Collector(), refs.organizations.Collector(), refs.systems.Collector(), seen.Collector(),
		newCertificatesCollector(refs.employees, seen, deps.Now)} {
		if err := deps.Metrics.Register(t); err != nil {
			return nil, fmt.Errorf("reference table metrics: %w", err)
		}
	}
	docs, err := documentChecks(deps.Config.Normalize.Documents, deps.Log)
	if err != nil {
		return nil, err
	}
	stage, err := normalize.New(normalize.Config{
		Catalog: deps.Catalog, Prefix: prefix, InstanceID: deps.Config.Instance,
		ClientOpts: deps.KafkaOpt, SessionOpts: []kgo.Opt{deps.KafkaMetrics("normalize")},
		Expiry:   deps.Config.Normalize.DedupWindow.D(),
		MaxBatch: deps.Config.Normalize.MaxBatch, Log: deps.Log, Metrics: deps.Metrics, DLQ: deps.DLQ,
		TickEvery: deps.Config.Normalize.TimersEvery.D(), Now: deps.Now,
	}, adnormalize.NewDecider(opts, refs).WithDocuments(docs).WithRules(adnormalize.Rules{
		ConsentRequiredFor: deps.Config.Normalize.ConsentRequiredFor,
		ConsentScope:       deps.Config.Normalize.ConsentScope,
		SNILSRequiredFor:   deps.Config.Normalize.SNILSRequiredFor,
	}).Domain())
	if err != nil {
		return nil, err
	}
	return []app.Worker{&normalizeWorker{stage: stage, refs: refs, seen: seen, deps: deps}}, nil
}
