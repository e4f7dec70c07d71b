package forward

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
)

// Parked is every record waiting in a retry tier, by the key later
// records must queue behind (DESIGN §4 "Retry"): a global table over the
// compacted parked topic, read whole by every instance, since the stages
// of one registry (the outbound topic and each tier) are separate
// consumer groups with separate assignments. Its keys are
// "<registry>|<order key>|<ce_id>"; a record leaving the tiers writes a
// tombstone, so no entry is ever read, changed and written back, and
// stages on different instances never race on one value.
type Parked struct {
	topic string
	table *reftable.Table[*ParkedEntry]
	opts  []kgo.Opt

	mu    sync.Mutex
	byKey map[string]map[string]int64 // "<registry>|<order key>" -> ce_id -> seq
	count map[string]int              // registry -> records parked
}

// ParkedEntry is one waiting record.
type ParkedEntry struct {
	Seq   int64     `json:"seq"`  // the record's offset in the outbound topic: order within its key
	Tier  string    `json:"tier"` // the topic it waits in
	Since time.Time `json:"since"`
}

// NewParked returns the table over topic (prefixed).
func NewParked(topic string, log *slog.Logger) *Parked {
	p := &Parked{topic: topic, byKey: map[string]map[string]int64{}, count: map[string]int{}}
	p.table = reftable.New("retry-parked", topic, func(key, value []byte, _ map[string]string) (string, *ParkedEntry, bool) {
		k := string(key)
		if value == nil {
			p.index(k, nil)
			return k, nil, true
		}
		var e ParkedEntry
		if err := json.Unmarshal(value, &e); err != nil {
			return "", nil, false
		}
		p.index(k, &e)
		return k, &e, true
	}, log)
	return p
}

// Name, Run and Ready make the table a worker of its own.
func (p *Parked) Name() string                  { return "retry-parked" }
func (p *Parked) Ready() error                  { return p.table.Ready() }
func (p *Parked) Run(ctx context.Context) error { return p.table.Run(ctx, p.opts) }

// WithClient sets the Kafka options the table reads with.
func (p *Parked) WithClient(opts []kgo.Opt) *Parked { p.opts = opts; return p }

func parkedKey(registry, orderKey, ceID string) string {
	return registry + "|" + orderKey + "|" + ceID
}

func splitParked(k string) (group, ceID string, ok bool) {
	i := strings.LastIndexByte(k, '|')
	if i < 0 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}

// index keeps byKey in step with the table; e nil removes.
func (p *Parked) index(k string, e *ParkedEntry) {
	group, id, ok := splitParked(k)
	if !ok {
		return
	}
	registry, _, _ := strings.Cut(group, "|")
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.byKey[group]
	_, had := m[id]
	if e == nil {
		if had {
			delete(m, id)
			p.count[registry]--
			if len(m) == 0 {
				delete(p.byKey, group)
			}
		}
		return
	}
	if m == nil {
		m = map[string]int64{}
		p.byKey[group] = m
	}
	if !had {
		p.count[registry]++
	}
	m[id] = e.Seq
}

// any reports whether registry has a record in its tiers: when none, no
// record needs its order key read to know it may go.
func (p *Parked) any(registry string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[registry] > 0
}

// ahead reports whether a record of orderKey other than ceID, and earlier
// than seq (any, when seq < 0), waits in a tier; skip lists records this
// batch has already taken out.
func (p *Parked) ahead(registry, orderKey, ceID string, seq int64, skip map[string]bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, s := range p.byKey[registry+"|"+orderKey] {
		if id != ceID && !skip[id] && (seq < 0 || s < seq) {
			return true
		}
	}
	return false
}

var waitingDesc = prometheus.NewDesc("egisz_forward_retry_waiting_records",
	"Records waiting in a registry's retry tiers: failed and due again later, or queued behind an earlier record of their key.",
	[]string{"registry"}, nil)

// Collector reports the records waiting in each registry's tiers, as this
// instance's copy of the table knows them.
func (p *Parked) Collector() prometheus.Collector { return waitingCollector{p} }

// Expect makes registry's series exist from the start, at 0.
func (p *Parked) Expect(registry string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.count[registry]; !ok {
		p.count[registry] = 0
	}
}

type waitingCollector struct{ p *Parked }

func (c waitingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- waitingDesc }

func (c waitingCollector) Collect(ch chan<- prometheus.Metric) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	for reg, n := range c.p.count {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(n), reg)
	}
}

// Len is the number of parked records.
func (p *Parked) Len() int { return p.table.Len() }

// record is the table write for a record entering (e set) or leaving the tiers.
func (p *Parked) record(registry, orderKey, ceID string, e *ParkedEntry) *kgo.Record {
	r := &kgo.Record{Topic: p.topic, Key: []byte(parkedKey(registry, orderKey, ceID))}
	if e != nil {
		r.Value, _ = json.Marshal(e)
	}
	return r
}

// apply makes committed writes visible here at once.
func (p *Parked) apply(recs []*kgo.Record) {
	for _, r := range recs {
		if r.Value == nil {
			p.table.Put(string(r.Key), nil, true)
			p.index(string(r.Key), nil)
			continue
		}
		var e ParkedEntry
		if json.Unmarshal(r.Value, &e) == nil {
			p.table.Put(string(r.Key), &e, false)
			p.index(string(r.Key), &e)
		}
	}
}
