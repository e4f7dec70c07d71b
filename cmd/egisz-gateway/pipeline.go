package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/frmo"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
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

// references are the ФРМР and ФРМО feeds as global tables.
type references struct {
	employees     *reftable.Table[*topics.Employee]
	organizations *reftable.Table[*topics.Organization]
}

func (r references) Employee(snils string) (*topics.Employee, bool) { return r.employees.Get(snils) }
func (r references) Organization(oid string) (*topics.Organization, bool) {
	return r.organizations.Get(oid)
}
func (r references) Ready() error {
	return errors.Join(r.employees.Ready(), r.organizations.Ready())
}

// feedDecoder turns a reference feed record into a table entry through the
// feed's adapter; a record the adapter rejects is skipped and counted.
func feedDecoder[V any](a source.Adapter, normKey func(string) string) reftable.Decode[V] {
	return func(key, value []byte, headers map[string]string) (string, V, bool) {
		var zero V
		if value == nil {
			return normKey(string(key)), zero, true // a tombstone
		}
		meta := source.Meta{SpecVersion: headers["ce_specversion"], ID: headers["ce_id"], Source: headers["ce_source"], Type: headers["ce_type"]}
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

// domain answers the normalize stage with the adapters' decider.
type domain struct{ d *adnormalize.Decider }

func (d domain) Ready() error                     { return d.d.Ready() }
func (d domain) Reason(code string) topics.Reason { return d.d.Reason(code) }

func (d domain) Decide(in normalize.Input, now time.Time) normalize.Verdict {
	dec := d.d.Decide(adnormalize.Input{Topic: in.Topic, Key: in.Key, Value: in.Value, Headers: in.Headers}, now)
	return verdict(&dec)
}

func (d domain) Settle(_ normalize.Input, v *normalize.Verdict, side normalize.SideReader, now time.Time) {
	dec, ok := v.Domain.(*adnormalize.Decision)
	if !ok {
		return
	}
	d.d.Settle(dec, side, now)
	*v = verdict(dec)
}

// Claim checks that an accepted event's business id keeps to the patient
// it first came with.
func (d domain) Claim(owner, patientKey string, side normalize.SideReader) ([]normalize.SideWrite, []topics.Reason) {
	ws, rs := d.d.Claim(owner, patientKey, side)
	return sideWrites(ws), rs
}

// Due expires prescriptions whose last valid day is over.
func (d domain) Due(table string, value []byte, now time.Time) ([]normalize.SideWrite, []normalize.Publish) {
	ws, ps := d.d.Due(table, value, now)
	return sideWrites(ws), publishes(ps)
}

func sideWrites(ws []adnormalize.SideWrite) []normalize.SideWrite {
	out := make([]normalize.SideWrite, len(ws))
	for i, w := range ws {
		out[i] = normalize.SideWrite(w)
	}
	return out
}

func publishes(ps []adnormalize.Publish) []normalize.Publish {
	out := make([]normalize.Publish, len(ps))
	for i, p := range ps {
		out[i] = normalize.Publish(p)
	}
	return out
}

func verdict(dec *adnormalize.Decision) normalize.Verdict {
	if len(dec.Reasons) > 0 {
		return normalize.Verdict{Reasons: dec.Reasons}
	}
	v := normalize.Verdict{
		Kind: dec.Event.Kind, PatientKey: dec.Event.PatientKey, DedupKey: dec.Event.DedupKey,
		Fingerprint: dec.Fingerprint, Version: dec.Event.Version, Payload: dec.Payload, Routes: dec.Routes,
		Owner: dec.Owner, Domain: dec,
	}
	v.Side, v.Publish = sideWrites(dec.Side), publishes(dec.Publish)
	return v
}

// normalizeWorker runs the reference tables beside the stage.
type normalizeWorker struct {
	stage *normalize.Stage
	refs  references
	deps  app.Deps
}

func (w *normalizeWorker) Name() string { return w.stage.Name() }
func (w *normalizeWorker) Ready() error { return w.stage.Ready() }

// Stats are the stage's transaction counters (egisz_stage_* metrics).
func (w *normalizeWorker) Stats() *eos.Stats { return w.stage.Stats() }
func (w *normalizeWorker) Run(ctx context.Context) error {
	errs := make(chan error, 2)
	go func() { errs <- w.refs.employees.Run(ctx, w.deps.KafkaOpt) }()
	go func() { errs <- w.refs.organizations.Run(ctx, w.deps.KafkaOpt) }()
	runErr := w.stage.Run(ctx)
	return errors.Join(runErr, <-errs, <-errs)
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
			feedDecoder[*topics.Employee](frmr.NewEmployees(opts), func(k string) string {
				if d, err := ident.NormalizeSNILS(k); err == nil {
					return d
				}
				return k
			}), deps.Log).LogChanges(),
		organizations: reftable.New("frmo", prefix+topics.FRMOOrganization,
			feedDecoder[*topics.Organization](frmo.NewOrganizations(opts), func(k string) string { return k }), deps.Log).LogChanges(),
	}
	for _, t := range []prometheus.Collector{refs.employees.Collector(), refs.organizations.Collector()} {
		if err := deps.Metrics.Register(t); err != nil {
			return nil, fmt.Errorf("reference table metrics: %w", err)
		}
	}
	stage, err := normalize.New(normalize.Config{
		Catalog: deps.Catalog, Prefix: prefix, InstanceID: deps.Config.Instance,
		ClientOpts: deps.KafkaOpt, SessionOpts: []kgo.Opt{deps.KafkaMetrics("normalize")},
		Expiry:   deps.Config.Normalize.DedupWindow.D(),
		MaxBatch: deps.Config.Normalize.MaxBatch, Log: deps.Log, Metrics: deps.Metrics, DLQ: deps.DLQ,
		TickEvery: deps.Config.Normalize.TimersEvery.D(), Now: deps.Now,
	}, domain{adnormalize.NewDecider(opts, refs)})
	if err != nil {
		return nil, err
	}
	return []app.Worker{&normalizeWorker{stage: stage, refs: refs, deps: deps}}, nil
}
