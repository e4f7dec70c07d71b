package loadgen

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Answered counts events with the normalize stage's outcome once each,
// whatever else arrives, and forgets an event sent again.
func TestTrackerAnswered(t *testing.T) {
	status := func(ceid, registry, outcome string) *kgo.Record {
		b, err := json.Marshal(topics.Status{CEID: ceid, Registry: registry, Outcome: outcome})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Value: b, Timestamp: time.Now()}
	}
	event := func(ceid string) Event { return Event{CEID: ceid, Record: &kgo.Record{Timestamp: time.Now()}} }

	tr := NewTracker()
	for _, id := range []string{"a", "b", "c"} {
		tr.Sent(event(id))
	}
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"nothing answered", func() {}, 0},
		{"a answered", func() { tr.observe(status("a", "", "accepted")) }, 1},
		{"a answered again: a duplicate outcome, not a second event", func() { tr.observe(status("a", "", "accepted")) }, 1},
		{"a registered: a registry's outcome is not the normalize stage's", func() { tr.observe(status("a", "remd", "registered")) }, 1},
		{"b only registered", func() { tr.observe(status("b", "iemk", "registered")) }, 1},
		{"a status of an event not sent", func() { tr.observe(status("x", "", "accepted")) }, 1},
		{"c answered", func() { tr.observe(status("c", "", "rejected")) }, 2},
		{"a sent again waits again", func() { tr.Sent(event("a")) }, 1},
	}
	for _, s := range steps {
		s.do()
		if got := tr.Answered(); got != s.want {
			t.Fatalf("%s: Answered() = %d, want %d", s.name, got, s.want)
		}
	}
}

// Events sent before TimeFrom get their outcomes checked but not timed:
// the latencies are the steady state's.
func TestTrackerTimesFrom(t *testing.T) {
	status := func(ceid, registry, outcome string) *kgo.Record {
		b, err := json.Marshal(topics.Status{CEID: ceid, Registry: registry, Outcome: outcome})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Value: b}
	}
	from := time.Now()
	tr := NewTracker()
	tr.TimeFrom(from)
	for id, at := range map[string]time.Time{"warm": from.Add(-time.Second), "timed": from, "later": from.Add(time.Millisecond)} {
		tr.Sent(Event{CEID: id, Expect: "accepted", Registries: []string{"iemk"}, Record: &kgo.Record{Timestamp: at}})
	}
	for _, id := range []string{"warm", "timed", "later"} {
		tr.observe(status(id, "", "accepted"))
		tr.observe(status(id, "iemk", "registered"))
	}
	r := tr.Report()
	if r.Normalize.N != 2 || r.EndToEnd.N != 2 {
		t.Errorf("timed %d normalize and %d registry outcomes, want 2 and 2: the warm-up's left out", r.Normalize.N, r.EndToEnd.N)
	}
	if r.Outcomes["accepted"] != 3 || r.Lost != 0 || !r.InvariantOK {
		t.Errorf("outcomes %v, lost %d, invariant %v: the warm-up's events are still checked", r.Outcomes, r.Lost, r.InvariantOK)
	}
}

// AnsweredBefore says whether the events sent before a time all have the
// normalize stage's outcome, whatever came after them or from a registry:
// the latency bench's test of a gateway that keeps up.
func TestTrackerAnsweredBefore(t *testing.T) {
	status := func(ceid, registry string) *kgo.Record {
		b, err := json.Marshal(topics.Status{CEID: ceid, Registry: registry, Outcome: "accepted"})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Value: b}
	}
	t0 := time.Now()
	tr := NewTracker()
	for id, at := range map[string]time.Time{"first": t0, "second": t0.Add(time.Second), "third": t0.Add(2 * time.Second)} {
		tr.Sent(Event{CEID: id, Record: &kgo.Record{Timestamp: at}})
	}
	steps := []struct {
		name string
		do   func()
		at   time.Time
		want bool
	}{
		{"nothing sent before", func() {}, t0, true},
		{"first unanswered", func() {}, t0.Add(time.Millisecond), false},
		{"first registered only", func() { tr.observe(status("first", "iemk")) }, t0.Add(time.Millisecond), false},
		{"first answered", func() { tr.observe(status("first", "")) }, t0.Add(time.Millisecond), true},
		{"third answered, second not", func() { tr.observe(status("third", "")) }, t0.Add(3 * time.Second), false},
		{"all answered", func() { tr.observe(status("second", "")) }, t0.Add(3 * time.Second), true},
	}
	for _, s := range steps {
		s.do()
		if got := tr.AnsweredBefore(s.at); got != s.want {
			t.Fatalf("%s: AnsweredBefore(t0+%s) = %v, want %v", s.name, s.at.Sub(t0), got, s.want)
		}
	}
}

// StatusOffsets waits for a status topic that is not there yet (a gateway
// still creating its catalog, a leader moving) and then gives every
// partition's end offset; it never hands the tracker kadm's placeholder
// for a topic it could not read, on which the tracker's reader could not
// be made and the run waited for answers that never came.
func TestStatusOffsetsWaitsForEveryPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := "t." + topics.StatusTopic

	type answer struct {
		from map[int32]kgo.Offset
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		from, err := StatusOffsets(ctx, cl, "t.")
		got <- answer{from, err}
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case a := <-got:
		t.Fatalf("answered before the topic existed: %v, %v", a.from, a.err)
	default:
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("{}")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	if len(a.from) != 3 {
		t.Fatalf("offsets of %d partitions (%v), want 3", len(a.from), a.from)
	}
	for p := range a.from {
		if p < 0 || p > 2 {
			t.Errorf("offset for partition %d", p)
		}
	}

	// The tracker reads from those offsets: a status written after them
	// is seen.
	tr := NewTracker()
	tr.Sent(Event{CEID: "e1", Record: &kgo.Record{Timestamp: time.Now()}})
	stop, err := tr.Start(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, "t.", a.from)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	b, _ := json.Marshal(topics.Status{CEID: "e1", Outcome: "accepted"})
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for tr.Answered() != 1 {
		if ctx.Err() != nil {
			t.Fatal("the status written after the offsets was never read")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A reader that cannot be made is Start's error, not a tracker that never
// answers.
func TestTrackerStartRefusesAReaderItCannotMake(t *testing.T) {
	stop, err := NewTracker().Start(context.Background(), []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, "t.",
		map[int32]kgo.Offset{-1: kgo.NewOffset().AtEnd()})
	if err == nil {
		stop()
		t.Fatal("Start made a reader of partition -1")
	}
}

// The normalize stage's share of the latency is up to the status record's
// own timestamp (its produce), and the rest is writing, committing and
// reading it: the share is measured from the same send, and never more
// than the whole.
func TestTrackerSplitsTheLatencyAtTheStatusProduce(t *testing.T) {
	sent := time.Now().Add(-time.Second)
	tr := NewTracker()
	for i, id := range []string{"a", "b", "c"} {
		tr.Sent(Event{CEID: id, Expect: "accepted", Record: &kgo.Record{Timestamp: sent}})
		b, err := json.Marshal(topics.Status{CEID: id, Outcome: "accepted"})
		if err != nil {
			t.Fatal(err)
		}
		// Produced by the stage 100, 200 and 300 ms after the send, read
		// about a second after it.
		tr.observe(&kgo.Record{Value: b, Timestamp: sent.Add(time.Duration(i+1) * 100 * time.Millisecond)})
	}
	r := tr.Report()
	if got := r.NormalizeProduced; got.N != 3 || got.P50 != 200*time.Millisecond || got.Max != 300*time.Millisecond {
		t.Errorf("to the status produce: %+v, want 3 of them, p50 200ms, max 300ms", got)
	}
	if r.Normalize.P50 < time.Second || r.Normalize.P50 <= r.NormalizeProduced.Max {
		t.Errorf("to the reader %+v, want the whole second since the send, beyond the share to the produce", r.Normalize)
	}
}
