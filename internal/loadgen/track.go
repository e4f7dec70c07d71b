package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Tracker reads egisz.status.v1 and holds every sent event against the
// outcomes it must get: exactly one from the normalize stage, and for an
// accepted event one final outcome from each registry it goes to
// (DESIGN §8).
type Tracker struct {
	mu     sync.Mutex
	events map[string]*tracked
	norm   []time.Duration // ingress produce to reading the normalize stage's status
	// normProduced: ingress produce to the status record's own timestamp,
	// which its producer sets as the stage produces it, at the end of the
	// work of the transaction that decided it; the rest of norm is writing,
	// committing and reading it.
	normProduced []time.Duration
	final        []time.Duration // ingress produce to reading a registry's final status
	extra        int             // statuses for events this run did not send
	// lastSeen and maxGap: the longest pause between two statuses.
	lastSeen time.Time
	maxGap   time.Duration
	// Events without ce_id (poison) cannot be told apart: they are counted.
	anonSent, anonAnswered int
	// answered: tracked events with the normalize stage's outcome, kept as
	// they come so that Answered can be polled while a million are tracked.
	answered int
	// normalizeOnly: no registry runs, so only the normalize stage answers.
	normalizeOnly bool
	// timedFrom: events sent before it are tracked but not timed.
	timedFrom time.Time
}

type tracked struct {
	ev      Event
	sentAt  time.Time
	outcome []string            // the normalize stage's outcomes (codes after ":")
	regs    map[string][]string // final registry outcomes
	regAt   []regOutcome        // each final registry outcome, where and when
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{events: map[string]*tracked{}} }

// NormalizeOnly makes the tracker expect the normalize stage's outcomes
// only: the gateway runs without registries.
func (t *Tracker) NormalizeOnly() {
	t.mu.Lock()
	t.normalizeOnly = true
	t.mu.Unlock()
}

// TimeFrom leaves out of the latencies every event sent before at: a run
// that warms up first reports the steady state only. Outcomes are still
// tracked and checked.
func (t *Tracker) TimeFrom(at time.Time) {
	t.mu.Lock()
	t.timedFrom = at
	t.mu.Unlock()
}

// Sent notes an event as produced at its record's timestamp.
func (t *Tracker) Sent(ev Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ev.CEID == "" {
		t.anonSent++
		return
	}
	if old := t.events[ev.CEID]; old != nil && len(old.outcome) > 0 {
		t.answered-- // sent again: it waits for its outcome again
	}
	t.events[ev.CEID] = &tracked{ev: ev, sentAt: ev.Record.Timestamp, regs: map[string][]string{}}
}

// StatusOffsets are where the status topic ends now: a tracker started
// from them sees every answer to events sent after. A topic just created,
// or a partition whose leader is moving (a broker was killed), has no end
// offset for a moment; it asks again until every partition has one, for
// up to statusOffsetsWithin.
func StatusOffsets(ctx context.Context, cl *kgo.Client, prefix string) (map[int32]kgo.Offset, error) {
	topic := prefix + topics.StatusTopic
	ctx, cancel := context.WithTimeout(ctx, statusOffsetsWithin)
	defer cancel()
	adm := kadm.NewClient(cl)
	for {
		from, err := endOffsets(ctx, adm, topic)
		if err == nil {
			return from, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// statusOffsetsWithin bounds how long StatusOffsets waits for the status
// topic's partitions to answer.
const statusOffsetsWithin = 30 * time.Second

// endOffsets are the topic's end offsets, or an error when it or any of
// its partitions did not answer with one: a map with a partition left out,
// or with kadm's -1 placeholder for a topic-level error, would have the
// tracker start at the wrong place or not at all.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]kgo.Offset, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, err
	}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })
	if len(from) == 0 {
		return nil, errors.New("no partitions")
	}
	return from, nil
}

// Start reads statuses from the offsets in the background until ctx ends
// or stop is called; stop returns once the reader is closed. A reader that
// cannot be made is an error here, not a tracker that silently never
// sees an answer.
func (t *Tracker) Start(ctx context.Context, opts []kgo.Opt, prefix string, from map[int32]kgo.Offset) (stop func(), err error) {
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{prefix + topics.StatusTopic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return nil, fmt.Errorf("status reader: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fs.EachRecord(t.observe)
		}
	}()
	return func() { cancel(); <-done }, nil
}

func (t *Tracker) observe(r *kgo.Record) {
	var st topics.Status
	if json.Unmarshal(r.Value, &st) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !t.lastSeen.IsZero() {
		t.maxGap = max(t.maxGap, now.Sub(t.lastSeen))
	}
	t.lastSeen = now
	if st.CEID == "" && st.Registry == "" {
		t.anonAnswered++
		return
	}
	e := t.events[st.CEID]
	if e == nil {
		t.extra++
		return
	}
	code := ""
	if len(st.Reasons) > 0 {
		code = st.Reasons[0].Code
	}
	// From the produce to when this reader saw the status, committed: what
	// a consumer of the status topic waits, commit included (the record's
	// own timestamp is taken before its transaction commits).
	lat := now.Sub(e.sentAt)
	timed := !e.sentAt.Before(t.timedFrom)
	switch {
	case st.Registry == "":
		if len(e.outcome) == 0 {
			t.answered++
		}
		e.outcome = append(e.outcome, st.Outcome+":"+code)
		if timed {
			t.norm = append(t.norm, lat)
			t.normProduced = append(t.normProduced, r.Timestamp.Sub(e.sentAt))
		}
	case st.Outcome == "pending":
	default:
		e.regs[st.Registry] = append(e.regs[st.Registry], st.Outcome)
		// Where each final outcome came from, to explain a duplicate.
		e.regAt = append(e.regAt, regOutcome{st.Registry, st.Outcome, st.RegistryID, r.Timestamp, r.Partition, r.Offset})
		if timed {
			t.final = append(t.final, lat)
		}
	}
}

// Answered is how many sent events have the normalize stage's outcome.
func (t *Tracker) Answered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.answered
}

// Settled reports whether every event sent has all the outcomes it needs.
func (t *Tracker) Settled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.anonAnswered < t.anonSent {
		return false
	}
	for _, e := range t.events {
		if !e.settled(t.normalizeOnly) {
			return false
		}
	}
	return true
}

// LongestPause is the longest time between two statuses the tracker
// read: how long a failure stopped outcomes from flowing.
func (t *Tracker) LongestPause() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maxGap
}

// SettledBefore reports whether every event sent before at has all the
// outcomes it needs: a stack has recovered from a fault at at when it has.
func (t *Tracker) SettledBefore(at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.events {
		if e.sentAt.Before(at) && !e.settled(t.normalizeOnly) {
			return false
		}
	}
	return true
}

// AnsweredBefore reports whether every event sent before at has the
// normalize stage's outcome: a stack keeps up with its input when it
// does for an at a little in the past.
func (t *Tracker) AnsweredBefore(at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.events {
		if e.sentAt.Before(at) && len(e.outcome) == 0 {
			return false
		}
	}
	return true
}

// regOutcome is a final registry status as read; formatted only when a
// report explains a duplicate or an unfinished event.
type regOutcome struct {
	registry, outcome, id string
	at                    time.Time
	partition             int32
	offset                int64
}

func (o regOutcome) String() string {
	return fmt.Sprintf("%s %s id=%s at %s (status p%d@%d)", o.registry, o.outcome, o.id, o.at.Format("15:04:05.000"), o.partition, o.offset)
}

func (e *tracked) settled(normalizeOnly bool) bool {
	if len(e.outcome) == 0 {
		return false
	}
	if !normalizeOnly && (e.ev.Expect == Accepted || e.ev.Expect == Update) {
		for _, r := range e.ev.Registries {
			if len(e.regs[r]) == 0 {
				return false
			}
		}
	}
	return true
}

// Report is what a run found.
type Report struct {
	Sent        int            `json:"sent"`
	SendSeconds float64        `json:"send_seconds"`
	SendRate    float64        `json:"send_rate"`
	Outcomes    map[string]int `json:"outcomes"`   // normalize outcome (and code) -> events
	Registries  map[string]int `json:"registries"` // registry:outcome -> events
	Lost        int            `json:"lost"`       // no outcome from the normalize stage
	Unfinished  int            `json:"unfinished"` // accepted, but a registry has not answered
	Duplicated  int            `json:"duplicated"` // more than one outcome from a stage
	// DuplicatedAt names the stages (normalize, or a registry) that gave
	// an event more than one outcome, and how often.
	DuplicatedAt      map[string]int `json:"duplicated_at,omitempty"`
	DuplicateExamples []string       `json:"duplicate_examples,omitempty"` // the first ones, with where each outcome came from
	// UnfinishedExamples are the first events still waiting for a registry.
	UnfinishedExamples []string `json:"unfinished_examples,omitempty"`
	Unexpected         int      `json:"unexpected"`         // an outcome other than the one the event must get
	Examples           []string `json:"examples,omitempty"` // the first unexpected ones
	Foreign            int      `json:"foreign"`            // statuses of events this run did not send
	// Anonymous events (no ce_id) sent and statuses without a ce_id seen.
	AnonymousSent     int     `json:"anonymous_sent,omitempty"`
	AnonymousAnswered int     `json:"anonymous_answered,omitempty"`
	Normalize         Latency `json:"normalize_latency"` // produce to reading the normalize stage's committed status
	// NormalizeProduced is produce to the status record's own timestamp:
	// the normalize stage's share of Normalize, up to the end of the work
	// of the transaction that decided the event; the rest is writing,
	// committing and reading the status.
	NormalizeProduced Latency `json:"normalize_produced_latency"`
	EndToEnd          Latency `json:"end_to_end_latency"`   // produce to reading a registry's final status
	InvariantOK       bool    `json:"invariant_held"`       // every event exactly one outcome per stage, none lost
	OutcomesOK        bool    `json:"outcomes_as_expected"` // and each the one it must be
}

func (r *Report) dup(stage, example string) {
	if r.DuplicatedAt == nil {
		r.DuplicatedAt = map[string]int{}
	}
	r.DuplicatedAt[stage]++
	if len(r.DuplicateExamples) < 5 {
		r.DuplicateExamples = append(r.DuplicateExamples, example)
	}
}

// Latency percentiles.
type Latency struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Percentiles sums up latencies.
func Percentiles(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Latency{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

// Report sums up what the tracker saw.
func (t *Tracker) Report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Report{Sent: len(t.events) + t.anonSent, Outcomes: map[string]int{}, Registries: map[string]int{}, Foreign: t.extra,
		Normalize: Percentiles(t.norm), NormalizeProduced: Percentiles(t.normProduced), EndToEnd: Percentiles(t.final), AnonymousSent: t.anonSent, AnonymousAnswered: t.anonAnswered}
	// Without a ce_id an answer cannot be matched to its event, only counted.
	r.Lost += max(0, t.anonSent-t.anonAnswered)
	r.Duplicated += max(0, t.anonAnswered-t.anonSent)
	ids := make([]string, 0, len(t.events))
	for id := range t.events {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := t.events[id]
		switch len(e.outcome) {
		case 0:
			r.Lost++
			continue
		case 1:
		default:
			r.Duplicated++
			r.dup("normalize", fmt.Sprintf("%s (%s): %v", id, e.ev.Kind, e.outcome))
		}
		r.Outcomes[strings.TrimSuffix(e.outcome[0], ":")]++
		want := e.ev.Expect + ":" + e.ev.Code
		if e.outcome[0] != want {
			r.Unexpected++
			if len(r.Examples) < 10 {
				r.Examples = append(r.Examples, fmt.Sprintf("%s (%s): %s, want %s", id, e.ev.Kind, e.outcome[0], want))
			}
		}
		if !e.settled(t.normalizeOnly) {
			r.Unfinished++
			if len(r.UnfinishedExamples) < 10 {
				r.UnfinishedExamples = append(r.UnfinishedExamples, fmt.Sprintf("%s (%s, key %s, sent %s): normalize %v, registries %v of %v",
					id, e.ev.Kind, e.ev.Record.Key, e.sentAt.Format("15:04:05.000"), e.outcome, e.regAt, e.ev.Registries))
			}
		}
		for reg, outs := range e.regs {
			r.Registries[reg+":"+outs[0]]++
			if len(outs) > 1 {
				r.Duplicated++
				r.dup(reg, fmt.Sprintf("%s (%s) at %s: %v", id, e.ev.Kind, reg, e.regAt))
			}
		}
	}
	r.InvariantOK = r.Lost == 0 && r.Duplicated == 0 && r.Unfinished == 0
	r.OutcomesOK = r.InvariantOK && r.Unexpected == 0
	return r
}

// Prime publishes what the events are judged against, the reference feeds
// and the identity confirmations (tracked), and waits until the gateway has
// answered every confirmation and has had a moment to read the feeds.
func Prime(ctx context.Context, cl *kgo.Client, g *Generator, t *Tracker) error {
	if err := cl.ProduceSync(ctx, g.References()...).FirstErr(); err != nil {
		return fmt.Errorf("reference feeds: %w", err)
	}
	for _, ev := range g.Identities() {
		ev.Record.Timestamp = time.Now()
		t.Sent(ev)
		cl.Produce(ctx, ev.Record, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	for !t.Settled() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("identities not answered: is the gateway running? %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The reference feeds are read apart from the stage.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	return nil
}
