package state

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecideFollowsTheDedupRule(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewStore(0)
	steps := []struct {
		fp      uint64
		version int64
		want    Outcome
	}{
		{fp: 1, version: 1, want: New},
		{fp: 1, version: 1, want: Duplicate},
		{fp: 1, version: 5, want: Duplicate}, // same content, whatever the version
		{fp: 2, version: 2, want: Update},
		{fp: 3, version: 2, want: Conflict}, // new content, not newer
		{fp: 4, version: 1, want: Conflict}, // older
		{fp: 2, version: 2, want: Duplicate},
		{fp: 5, version: 3, want: Update},
	}
	for i, st := range steps {
		got, _ := s.Decide("k", st.fp, st.version, now)
		if got != st.want {
			t.Fatalf("step %d (fp %d v%d): %s, want %s", i, st.fp, st.version, got, st.want)
		}
	}
	if e, _ := s.Dedup("k"); e.Fingerprint != 5 || e.Version != 3 {
		t.Fatalf("entry %+v", e)
	}
}

func TestAbortUndoesAndChangelogReplays(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewStore(3)
	s.Decide("a", 1, 1, now)
	s.PutSide("identity", "11223344595", []byte("v1"))
	committed := s.TakeChanges()
	s.Commit()

	s.Decide("a", 2, 2, now)
	s.Decide("b", 1, 1, now)
	s.PutSide("identity", "11223344595", []byte("v2"))
	s.Abort()
	if e, _ := s.Dedup("a"); e.Fingerprint != 1 {
		t.Errorf("abort left a at %+v", e)
	}
	if _, ok := s.Dedup("b"); ok {
		t.Error("abort left b")
	}
	if v, _ := s.Side("identity", "11223344595"); string(v) != "v1" {
		t.Errorf("abort left the side value %q", v)
	}
	if len(s.TakeChanges()) != 0 {
		t.Error("abort left changes to write")
	}

	// A new owner replays the committed changelog into an empty store.
	r := NewStore(3)
	for _, c := range committed {
		if err := r.Apply(c.Key, c.Value); err != nil {
			t.Fatal(err)
		}
	}
	if e, ok := r.Dedup("a"); !ok || e.Fingerprint != 1 || e.Version != 1 {
		t.Errorf("replayed a: %+v %v", e, ok)
	}
	if v, _ := r.Side("identity", "11223344595"); string(v) != "v1" {
		t.Errorf("replayed side value %q", v)
	}
	for _, c := range committed {
		if string(c.Key[1:]) == "11223344595" || len(c.Key) != 17 {
			t.Errorf("changelog key %x is not a hash", c.Key)
		}
	}
}

func TestExpireWritesTombstones(t *testing.T) {
	s := NewStore(0)
	old := time.Unix(1_600_000_000, 0)
	s.Decide("old", 1, 1, old)
	s.Decide("fresh", 1, 1, old.Add(500*24*time.Hour))
	s.TakeChanges()
	s.Commit()
	if n := s.Expire(old.Add(400 * 24 * time.Hour)); n != 1 {
		t.Fatalf("expired %d", n)
	}
	ch := s.TakeChanges()
	if len(ch) != 1 || ch[0].Value != nil {
		t.Fatalf("changes %v, want one tombstone", ch)
	}
	if _, ok := s.Dedup("old"); ok {
		t.Error("old key kept")
	}
	r := NewStore(0)
	r.Decide("old", 1, 1, old)
	if err := r.Apply(ch[0].Key, nil); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Error("tombstone not applied on restore")
	}
}

func TestDeleteDedupWritesATombstoneAndAborts(t *testing.T) {
	s := NewStore(0)
	now := time.Unix(1_700_000_000, 0)
	s.Decide("k", 7, 1, now)
	s.Decide("other", 8, 1, now)
	s.TakeChanges()
	s.Commit()
	s.DeleteDedup("k")
	s.DeleteDedup("never-held") // nothing to delete: no tombstone
	ch := s.TakeChanges()
	if len(ch) != 1 || ch[0].Value != nil {
		t.Fatalf("changes %v, want one tombstone", ch)
	}
	if _, ok := s.Dedup("k"); ok {
		t.Fatal("deleted key kept")
	}
	if out, _ := s.Decide("k", 7, 1, now); out != New {
		t.Errorf("after the delete the same event is %s, want new", out)
	}
	s.Abort()
	if e, ok := s.Dedup("k"); !ok || e.Fingerprint != 7 || s.Len() != 2 {
		t.Errorf("abort left %+v, %v, %d keys; want the entry back", e, ok, s.Len())
	}
}

func TestApplyRejectsGarbage(t *testing.T) {
	s := NewStore(0)
	for _, kv := range [][2][]byte{{[]byte("short"), nil}, {append([]byte{'x'}, make([]byte, 16)...), []byte("v")}, {append([]byte{'d'}, make([]byte, 16)...), []byte("not 20")}} {
		if err := s.Apply(kv[0], kv[1]); err == nil {
			t.Errorf("Apply(%q) accepted", kv[0])
		}
	}
}

// BenchmarkMemoryPerKey reports the heap bytes a store holds per dedup key
// (EGISZ_STATE_KEYS keys; 1M by default). Run with -benchtime=1x.
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			now := time.Now()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := NewStore(0)
			for i := 0; i < n; i++ {
				s.Decide(fmt.Sprintf("%011d|case|1.2.643.5.1.13.13.12.1.42.202.100.1.1.15:TAP-%d", i, i), uint64(i), 1, now)
				if i%10000 == 0 {
					s.Commit() // a transaction's worth of undo is all a store ever holds
				}
			}
			s.Commit()
			s.TakeChanges()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/key")
			b.ReportMetric(0, "ns/op")
			runtime.KeepAlive(s)
		})
	}
}

// BenchmarkRestore measures replaying changelog records into a store.
func BenchmarkRestore(b *testing.B) {
	const n = 1_000_000
	now := time.Now()
	src := NewStore(0)
	for i := 0; i < n; i++ {
		src.Decide(fmt.Sprintf("k%d", i), uint64(i), 1, now)
	}
	changes := src.TakeChanges()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		dst := NewStore(0)
		for _, c := range changes {
			_ = dst.Apply(c.Key, c.Value)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "keys/s")
}

// TestTimedSideEntries: a timed entry is due at its time and not before,
// stops being due once rewritten without a time, comes back on abort, and
// a new owner replaying the changelog gets the same timers.
func TestTimedSideEntries(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	s := NewStore(1)
	s.PutSideDue("rx", "42-24/1", []byte("one"), t0.Add(time.Hour))
	s.PutSideDue("rx", "42-24/2", []byte("two"), t0.Add(2*time.Hour))
	s.PutSideDue("rx", "42-24/3", []byte("three"), time.Time{})
	s.Commit()
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{t0, nil},
		{t0.Add(time.Hour - time.Millisecond), nil},
		{t0.Add(time.Hour), []string{"one"}},
		{t0.Add(3 * time.Hour), []string{"one", "two"}},
	} {
		var got []string
		for _, d := range s.Due(tc.at) {
			if d.Table != "rx" {
				t.Errorf("due entry of table %q", d.Table)
			}
			got = append(got, string(d.Value))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("due at %s: %v, want %v", tc.at.Sub(t0), got, tc.want)
		}
	}
	s.PutSideDue("rx", "42-24/1", []byte("one expired"), time.Time{})
	if d := s.Due(t0.Add(3 * time.Hour)); len(d) != 1 || string(d[0].Value) != "two" {
		t.Errorf("after rewriting one: due %v", d)
	}
	s.Abort()
	if d := s.Due(t0.Add(3 * time.Hour)); len(d) != 2 {
		t.Errorf("after abort: %d due, want 2", len(d))
	}
	s.PutSideDue("rx", "42-24/1", []byte("one expired"), time.Time{})
	changes := s.TakeChanges()
	s.Commit()

	r := NewStore(1)
	s2 := NewStore(1)
	s2.PutSideDue("rx", "42-24/1", []byte("one"), t0.Add(time.Hour))
	s2.PutSideDue("rx", "42-24/2", []byte("two"), t0.Add(2*time.Hour))
	for _, c := range append(s2.TakeChanges(), changes...) {
		if err := r.Apply(c.Key, c.Value); err != nil {
			t.Fatal(err)
		}
	}
	if d := r.Due(t0.Add(3 * time.Hour)); len(d) != 1 || string(d[0].Value) != "two" || r.Timers() != 1 {
		t.Errorf("restored: due %v, %d timers", d, r.Timers())
	}
	if v, _ := r.Side("rx", "42-24/1"); string(v) != "one expired" {
		t.Errorf("restored value %q", v)
	}
	if err := r.Apply(changelogKey(kindTimed, HashKey(kindSide, "x")), []byte{1, 2}); err == nil {
		t.Error("a short timed entry applies")
	}
}
