package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// sameWork is raw franz-go doing the Kafka work the gateway's stages did
// over a measured stretch (the change of their egisz_stage_* counters):
// a hop for each stage that consumes, reading what the stage before it
// wrote, and writing per record read as many records as the stage did:
//
//   - normalize reads the ingress and writes each registry's outbound
//     records, as many as that registry's stage read;
//   - a registry's stage reads its outbound topic and writes its first
//     retry tier's records, as many as the tier read; a tier writes the
//     next tier's;
//   - every other record a stage wrote is terminal: one per record read is
//     a status, which a reader reads as the bench's tracker reads the
//     gateway's, and the rest (state, pending documents, dead letters) is
//     written and not read;
//   - РЭМД's callbacks, which commit in transactions of their own, are
//     written by РЭМД's hop: as many statuses and records per record read.
//
// Every record is one of the events the gateway was fed (the feed's
// Values), every topic has the ingress's partitions, and the clients have
// the gateway's options. It leaves out
// what is not Kafka work: decoding, deciding, the registry calls.
func sameWork(prefix string, brokers []string, d map[string]stageCounts) (kafkatest.Pipeline, error) {
	norm := d["normalize"]
	if norm.in <= 0 {
		return kafkatest.Pipeline{}, fmt.Errorf("raw same work: the normalize stage read nothing: %v", d)
	}
	opts, err := gatewayClientOpts(brokers)
	if err != nil {
		return kafkatest.Pipeline{}, err
	}
	p := kafkatest.Pipeline{Brokers: brokers, Prefix: prefix, Partitions: topics.PatientPartitions,
		Read: []string{prefix + "status"}, ClientOpts: opts}
	type hopOf struct {
		name, in string
		c        stageCounts
		statuses float64 // beyond one per record read: РЭМД's callbacks'
		out      map[string]float64
	}
	normalize := &hopOf{name: "normalize", in: prefix + "ingress", c: norm, out: map[string]float64{}}
	hops := []*hopOf{normalize}
	for _, reg := range []topics.Registry{topics.RegistryREMD, topics.RegistryIEMK, topics.RegistryERX} {
		fwd, ok := d["forward-"+string(reg)]
		if !ok || fwd.in <= 0 {
			continue
		}
		first := &hopOf{name: "forward-" + string(reg), in: prefix + "outbound-" + string(reg), c: fwd, out: map[string]float64{}}
		if cb := d["forward-"+string(reg)+"-callbacks"]; cb.in > 0 {
			first.c.out += cb.out
			first.statuses = cb.in
		}
		chain := []*hopOf{first}
		for _, t := range retryTiers(d, reg) {
			chain = append(chain, &hopOf{name: t.name, in: prefix + t.name, c: t.c, out: map[string]float64{}})
		}
		// Each hop writes what the next one read.
		from := normalize
		for _, h := range chain {
			from.out[h.in] = h.c.in / from.c.in
			from = h
		}
		hops = append(hops, chain...)
	}
	for _, h := range hops {
		var onward float64
		for _, r := range h.out {
			onward += r
		}
		rest := max(0, h.c.out/h.c.in-onward)
		status := min(rest, 1+h.statuses/h.c.in)
		h.out[prefix+"status"] = status
		if rest > status {
			h.out[prefix+"state"] = rest - status
		}
		p.Hops = append(p.Hops, kafkatest.Hop{Name: h.name, In: h.in, Out: h.out})
	}
	return p, nil
}

type tier struct {
	name  string
	delay time.Duration
	c     stageCounts
}

// retryTiers are reg's retry stages that read anything, shortest delay
// first: the order records escalate in.
func retryTiers(d map[string]stageCounts, reg topics.Registry) []tier {
	var out []tier
	for _, name := range slices.Sorted(maps.Keys(d)) {
		rest, ok := strings.CutPrefix(name, "retry-"+string(reg)+"-")
		if !ok || d[name].in <= 0 {
			continue
		}
		delay, err := time.ParseDuration(rest)
		if err != nil {
			continue
		}
		out = append(out, tier{name: name, delay: delay, c: d[name]})
	}
	slices.SortFunc(out, func(a, b tier) int { return cmp.Compare(a.delay, b.delay) })
	return out
}

// rawSameWork runs sameWork over the stage counters of a measured stretch,
// fed like the gateway was.
func (b *bench) rawSameWork(ctx context.Context, d map[string]stageCounts, feed kafkatest.Feed) (kafkatest.PipelineResult, kafkatest.Pipeline, error) {
	p, err := sameWork(b.prefix("raw"), b.brokers, d)
	if err != nil {
		return kafkatest.PipelineResult{}, p, err
	}
	wait := 5 * time.Minute
	if feed.Rate > 0 {
		wait += time.Duration(float64(feed.N) / feed.Rate * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	res, err := p.Run(ctx, feed)
	return res, p, err
}

// written is how many records the stages wrote in all.
func written(d map[string]stageCounts) float64 {
	var n float64
	for _, c := range d {
		n += c.out
	}
	return n
}

// sameWorkNote says what raw franz-go did per event beside what the
// gateway's stages did.
// and where its hops' transactions spent their time, to set beside the
// stages' own (transactions).
func sameWorkNote(p kafkatest.Pipeline, res kafkatest.PipelineResult, d map[string]stageCounts, events int) string {
	note := fmt.Sprintf("raw franz-go ran %d transactional hops and wrote %.2f records per event; the gateway's stages wrote %.2f",
		len(p.Hops), float64(res.Written)/float64(events), written(d)/float64(events))
	var hops []string
	for _, h := range p.Hops {
		ph := res.Phases[h.Name]
		if ph.Transactions == 0 {
			continue
		}
		ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(ph.Transactions) }
		hops = append(hops, fmt.Sprintf("%s %.0f ms writing, %.0f ending it", h.Name, ms(ph.Write), ms(ph.End)))
	}
	if len(hops) > 0 {
		note += "; raw franz-go's transactions: " + strings.Join(hops, ", ")
	}
	return note
}

// warmUp runs raw franz-go through a normalize-like hop once before any
// scenario, not reported: a broker just started runs its first minutes
// slower (the JVM compiles as it goes), and without it the first scenario,
// measured before its raw figure, would be measured on a colder broker.
func (b *bench) warmUp(ctx context.Context) error {
	prefix := b.prefix("warm")
	opts, err := gatewayClientOpts(b.brokers)
	if err != nil {
		return err
	}
	p := kafkatest.Pipeline{Brokers: b.brokers, Prefix: prefix, Partitions: topics.PatientPartitions,
		Hops:       []kafkatest.Hop{{Name: "warm", In: prefix + "in", Out: map[string]float64{prefix + "status": 1, prefix + "state": 2}}},
		Read:       []string{prefix + "status"},
		ClientOpts: opts}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := p.Run(ctx, kafkatest.Feed{N: 100_000, Size: payloadBytes})
	if err != nil {
		return fmt.Errorf("warm the broker up: %w", err)
	}
	b.log.Info("broker warmed up", "took", time.Since(start).Round(time.Millisecond), "records_written", res.Written)
	return nil
}

// gatewayClientOpts are the options every gateway client shares
// (kafkaclient.Options over the default configuration), for raw franz-go
// to be tuned as the gateway is.
func gatewayClientOpts(brokers []string) ([]kgo.Opt, error) {
	k := config.Default().Kafka
	k.Brokers = brokers
	opts, err := kafkaclient.Options(k)
	if err != nil {
		return nil, fmt.Errorf("raw franz-go's client options: %w", err)
	}
	return opts, nil
}
