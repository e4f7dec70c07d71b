package kafkatest

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Over inputs 0..n-1, a ratio writes floor(n*r) records with the indices
// 0..floor(n*r)-1, each once: what the next hop waits for.
func TestFanoutWritesEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct {
		n int64
		r float64
	}{{1000, 0}, {1000, 1}, {1000, 0.3}, {1000, 1.02}, {999, 2.7}, {7, 0.5}, {100_000, 0.2931}} {
		seen := map[int64]int{}
		var total int64
		for i := range tc.n {
			first, count := fanout(i, tc.r)
			for j := range count {
				seen[first+j]++
			}
			total += count
		}
		want := int64(float64(tc.n) * tc.r)
		if total != want {
			t.Errorf("n=%d r=%v: %d written, want %d", tc.n, tc.r, total, want)
		}
		for j := range want {
			if seen[j] != 1 {
				t.Fatalf("n=%d r=%v: index %d written %d times", tc.n, tc.r, j, seen[j])
			}
		}
	}
}

func TestPipelineShapeIsChecked(t *testing.T) {
	hop := func(name, in string, out map[string]float64) Hop { return Hop{Name: name, In: in, Out: out} }
	for _, tc := range []struct {
		name string
		p    Pipeline
		err  string // "" when the shape is valid
	}{
		{"two hops and a shared status topic", Pipeline{Hops: []Hop{
			hop("a", "in", map[string]float64{"mid": 0.5, "status": 1, "state": 1.5}),
			hop("b", "mid", map[string]float64{"status": 2}),
		}, Read: []string{"status"}}, ""},
		{"no hops", Pipeline{}, "without hops"},
		{"a hop reads what nobody writes", Pipeline{Hops: []Hop{
			hop("a", "in", map[string]float64{"status": 1}),
			hop("b", "elsewhere", map[string]float64{"status": 1}),
		}}, "no earlier hop writes"},
		{"two writers of a topic a hop reads", Pipeline{Hops: []Hop{
			hop("a", "in", map[string]float64{"mid": 1, "x": 1}),
			hop("b", "mid", map[string]float64{"status": 1}),
			hop("c", "x", map[string]float64{"mid": 1}),
		}}, "both write mid"},
		{"a loop back to the input", Pipeline{Hops: []Hop{
			hop("a", "in", map[string]float64{"mid": 1}),
			hop("b", "mid", map[string]float64{"in": 1}),
		}}, "before it reads"},
		{"a negative ratio", Pipeline{Hops: []Hop{hop("a", "in", map[string]float64{"status": -1})}}, "per record"},
		{"a read topic nobody writes", Pipeline{Hops: []Hop{hop("a", "in", map[string]float64{"status": 1})}, Read: []string{"other"}}, "no hop writes it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("valid shape refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// A raw pipeline that dropped or doubled records, or read fewer than it
// waits for, would flatter the gateway beside it.
func TestPipelineMovesEveryRecord(t *testing.T) {
	c := New(t)
	ctx := Context(t, 3*time.Minute)
	const n = 400
	p := Pipeline{Brokers: c.Brokers, Prefix: c.Name("pipe-"), Partitions: 3, Hops: []Hop{
		{Name: "first", In: c.Name("in"), Out: map[string]float64{c.Name("mid"): 0.75, c.Name("status"): 1, c.Name("state"): 1.5}},
		{Name: "second", In: c.Name("mid"), Out: map[string]float64{c.Name("status"): 2}},
	}, Read: []string{c.Name("status")}}
	start := time.Now()
	// The first 100 ms of the feed are not timed, and still waited for.
	res, err := p.Run(ctx, Feed{N: n, Size: 100, Rate: 1000, Warm: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// mid: 300; status: 400 from the first hop, 600 from the second; state: 600.
	if res.Written != 300+400+600+600 {
		t.Errorf("written %d, want %d", res.Written, 300+400+600+600)
	}
	for topic, want := range map[string]int{c.Name("mid"): 300, c.Name("status"): 1000, c.Name("state"): 600} {
		if got := countCommitted(t, c, topic, want); got != want {
			t.Errorf("%s holds %d records, want %d", topic, got, want)
		}
	}
	if got := len(res.Latency["first"]); got == 0 || got >= 400 {
		t.Errorf("%d latencies of the first hop, want fewer than its 400 records but some", got)
	}
	if got := len(res.Latency["second"]); got == 0 || got >= 600 {
		t.Errorf("%d latencies of the second hop, want fewer than its 600 records but some", got)
	}
	// Each hop's transactions are timed, and took no more than the run.
	for _, hop := range []string{"first", "second"} {
		ph := res.Phases[hop]
		if ph.Transactions == 0 || ph.Write <= 0 || ph.End <= 0 || ph.Write+ph.End > time.Since(start) {
			t.Errorf("hop %s: %+v, want transactions timed within the %s of the run", hop, ph, time.Since(start))
		}
	}
	// Fed at 1000 a second, 400 records cannot all be through in less than 0.4 s.
	if res.Took < 400*time.Millisecond || res.Took > time.Since(start) {
		t.Errorf("took %s, not between 0.4 s and the %s the run took", res.Took, time.Since(start))
	}
	for hop, lat := range res.Latency {
		for _, d := range lat {
			if d <= 0 || d > time.Minute {
				t.Fatalf("a latency of hop %s is %s", hop, d)
			}
		}
	}
}

// A record that cannot be produced ends the run with the produce's error,
// not with the caller's deadline.
func TestPipelineFailsOnAFailedProduce(t *testing.T) {
	c := New(t)
	ctx := Context(t, 2*time.Minute)
	p := Pipeline{Brokers: c.Brokers, Prefix: c.Name("big-"), Partitions: 1, Hops: []Hop{
		{Name: "only", In: c.Name("big-in"), Out: map[string]float64{c.Name("big-status"): 1}},
	}, Read: []string{c.Name("big-status")}}
	// Larger than the client's largest batch (1 MB): refused before it leaves.
	_, err := p.Run(ctx, Feed{N: 10, Size: 2 << 20, Rate: 100})
	if err == nil || !strings.Contains(err.Error(), "produce to "+c.Name("big-in")) {
		t.Fatalf("a run of records that cannot be produced: %v; want the produce's error", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("returned only at the deadline: %v", err)
	}
}

// Fed Values, the pipeline carries those bytes, in turn, and not zeros of
// Size: the broker must store and serve what the gateway was fed.
func TestPipelineCarriesTheFedValues(t *testing.T) {
	c := New(t)
	ctx := Context(t, 2*time.Minute)
	values := [][]byte{[]byte(`{"kind":"case","n":1}`), []byte(`{"kind":"document","n":2}`), []byte(`{"kind":"lab_result","n":3}`)}
	p := Pipeline{Brokers: c.Brokers, Prefix: c.Name("vals-"), Partitions: 2, Hops: []Hop{
		{Name: "only", In: c.Name("vals-in"), Out: map[string]float64{c.Name("vals-status"): 1}},
	}, Read: []string{c.Name("vals-status")}}
	if _, err := p.Run(ctx, Feed{N: 30, Size: 1024, Values: values}); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t, kgo.ConsumeTopics(c.Name("vals-status")), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := map[string]int{}
	for n := 0; n < 30 && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			n++
		})
	}
	for _, v := range values {
		if seen[string(v)] != 10 {
			t.Errorf("value %s carried %d times, want 10 (of 30, in turn): %v", v, seen[string(v)], seen)
		}
	}
	if len(seen) != len(values) {
		t.Errorf("values carried: %v; want only the fed ones", seen)
	}
}
