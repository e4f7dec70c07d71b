package pending

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// recordingWriter keeps what it is given to write, or fails.
type recordingWriter struct {
	mu     sync.Mutex
	fail   error
	groups [][]*kgo.Record
}

func (w *recordingWriter) Write(_ context.Context, recs []*kgo.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return w.fail
	}
	w.groups = append(w.groups, recs)
	return nil
}

func (w *recordingWriter) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (w *recordingWriter) Close()                        {}

// keys are the keys of the last group written, in order.
func (w *recordingWriter) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.groups) == 0 {
		return nil
	}
	var ks []string
	for _, r := range w.groups[len(w.groups)-1] {
		ks = append(ks, string(r.Key))
	}
	return ks
}

// localPending is pending documents whose table is filled by hand, with
// no broker: apply reads and puts it locally, as after its own writes.
// This instance holds partition 0, and its table has read it.
func localPending(t *testing.T, cb config.Callback, w Writer) (*Pending, *testStage) {
	t.Helper()
	stage := &testStage{held: map[int32]bool{0: true}}
	p, err := New(Config{Topic: "pending", Partitions: 6, Outbound: "out", Callback: cb, Writer: w,
		Metrics: NewMetrics(), Now: time.Now, Log: slog.New(slog.DiscardHandler)}, stage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.owner.settleFrom[0] = 0
	return p, stage
}

// apply writes what a settlement writes and only then changes the table
// and the orphans; a failed write leaves them as they were, and an orphan
// past its bounds is neither written nor kept.
func TestApplyWritesBeforeItChangesAnything(t *testing.T) {
	bounds := config.Callback{MaxOrphans: 10, MaxOrphanBytes: 1 << 20, MaxOrphansPerSource: 1, MaxOrphanBytesPerSource: 1 << 20}
	rec := Store(&kgo.Record{Topic: "out", Key: []byte("patient"), Value: []byte("{}"), Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("d-1")}}})
	registered := CallbackResult{RequestID: "d-1", Registered: true, RegistryID: "E-1"}
	broken := errors.New("broker gone")

	t.Run("an unknown document's callback is kept as an orphan once written", func(t *testing.T) {
		w := &recordingWriter{}
		p, _ := localPending(t, bounds, w)
		if _, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered, Source: "s1"}); err != nil {
			t.Fatal(err)
		}
		if ks := w.keys(); len(ks) != 1 || ks[0] != OrphanKey("d-1") {
			t.Fatalf("wrote %v, want the orphan alone", ks)
		}
		if got := w.groups[0][0].Partition; got != PartitionOf("d-1", 6) {
			t.Errorf("orphan on partition %d, want %d", got, PartitionOf("d-1", 6))
		}
		if e, ok := p.Get(OrphanKey("d-1")); !ok || e.State != StateOrphan {
			t.Errorf("table holds %+v, want the orphan", e)
		}
		if cb, ok := p.orphans.Result("d-1"); !ok || cb.RegistryID != "E-1" {
			t.Errorf("orphans hold %+v (%v), want the callback's result", cb, ok)
		}
	})
	t.Run("a failed write keeps no orphan and gives its room back", func(t *testing.T) {
		w := &recordingWriter{fail: broken}
		p, _ := localPending(t, bounds, w)
		if _, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered, Source: "s1"}); !errors.Is(err, broken) {
			t.Fatalf("err = %v, want the writer's", err)
		}
		if _, ok := p.Get(OrphanKey("d-1")); ok {
			t.Error("the table kept an orphan that was not written")
		}
		if n, b := p.orphans.Use(); n != 0 || b != 0 {
			t.Errorf("orphans take %d, %d bytes; want none", n, b)
		}
		w.fail = nil
		if _, err := p.apply(t.Context(), "d-2", Event{Kind: Callback, Result: registered, Source: "s1"}); err != nil {
			t.Errorf("the source's one orphan refused after a failed write: %v", err)
		}
	})
	t.Run("past the source's bound nothing is written", func(t *testing.T) {
		w := &recordingWriter{}
		p, _ := localPending(t, bounds, w)
		if _, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered, Source: "s1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.apply(t.Context(), "d-2", Event{Kind: Callback, Result: registered, Source: "s1"}); !errors.Is(err, ErrOrphanLimit) {
			t.Fatalf("err = %v, want ErrOrphanLimit", err)
		}
		if len(w.groups) != 1 {
			t.Errorf("%d writes, want the first orphan's only", len(w.groups))
		}
	})
	t.Run("an early callback settles the pending document and drops its orphan together", func(t *testing.T) {
		w := &recordingWriter{}
		p, stage := localPending(t, bounds, w)
		if _, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered, Source: "s1"}); err != nil {
			t.Fatal(err)
		}
		p.table.Put("d-1", &Entry{State: StatePending, Partition: 0, SentAt: time.Now(), Record: rec}, false)
		cb, _ := p.orphans.Result("d-1")
		st, err := p.apply(t.Context(), "d-1", Event{Kind: EarlyCallback, Result: cb})
		if err != nil || st.Action != Register {
			t.Fatalf("apply = %v, %v; want registered", st.Action, err)
		}
		if ks := w.keys(); len(ks) != 2 || ks[0] != "d-1" || ks[1] != OrphanKey("d-1") {
			t.Errorf("wrote %v, want the entry and the orphan's tombstone in one group", ks)
		}
		if e, _ := p.Get("d-1"); e == nil || e.State != StateRegistered || e.Record != nil {
			t.Errorf("entry %+v, want registered without its record", e)
		}
		if _, ok := p.Get(OrphanKey("d-1")); ok {
			t.Error("the orphan is still in the table")
		}
		if _, ok := p.orphans.Result("d-1"); ok {
			t.Error("the orphan is still kept")
		}
		if len(stage.settled) != 1 || stage.settled[0].Action != Register {
			t.Errorf("the stage was given %+v, want one registration", stage.settled)
		}
	})
	t.Run("a repeated callback of a settled document writes nothing", func(t *testing.T) {
		// The table may not have read the entry the forward stage has
		// just written for the document's next sending: writing the
		// settled entry back would undo it.
		w := &recordingWriter{}
		p, stage := localPending(t, bounds, w)
		resent := &Entry{State: StateResent, Partition: 0, SentAt: time.Now(), Done: time.Now(), Callbacks: 1}
		p.table.Put("d-1", resent, false)
		retry := CallbackResult{RequestID: "d-1", Retry: true}
		for _, ev := range []Event{{Kind: Callback, Result: retry, Sending: 1}, {Kind: Callback, Result: retry}} {
			st, err := p.apply(t.Context(), "d-1", ev)
			if err != nil || st.Action != Note {
				t.Fatalf("apply = %v, %v; want noted", st.Action, err)
			}
		}
		if len(w.groups) != 0 || len(stage.settled) != 0 {
			t.Fatalf("wrote %d groups and settled %+v, want nothing", len(w.groups), stage.settled)
		}
		if e, _ := p.Get("d-1"); e != resent {
			t.Errorf("entry %+v, want the one stored", e)
		}
	})
	t.Run("a failed settlement leaves the document pending and uncounted", func(t *testing.T) {
		w := &recordingWriter{fail: broken}
		p, stage := localPending(t, bounds, w)
		p.table.Put("d-1", &Entry{State: StatePending, Partition: 0, SentAt: time.Now(), Record: rec}, false)
		if _, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered}); !errors.Is(err, broken) {
			t.Fatalf("err = %v, want the writer's", err)
		}
		if e, _ := p.Get("d-1"); e == nil || e.State != StatePending || e.Callbacks != 0 {
			t.Errorf("entry %+v, want pending as it was", e)
		}
		if len(stage.settled) != 0 {
			t.Errorf("counted %+v before it was written", stage.settled)
		}
	})
	t.Run("a document pending on a partition held elsewhere is not settled here", func(t *testing.T) {
		w := &recordingWriter{}
		p, stage := localPending(t, bounds, w)
		p.table.Put("d-1", &Entry{State: StatePending, Partition: 3, SentAt: time.Now(), Record: rec}, false)
		st, err := p.apply(t.Context(), "d-1", Event{Kind: Callback, Result: registered, Source: "s1"})
		if err != nil || st.Action != Orphan {
			t.Fatalf("apply = %v, %v; want kept as an orphan", st.Action, err)
		}
		if e, _ := p.Get("d-1"); e == nil || e.State != StatePending {
			t.Errorf("entry %+v, want still pending", e)
		}
		if len(stage.settled) != 0 {
			t.Errorf("settled %+v on a partition this instance does not hold", stage.settled)
		}
	})
}
