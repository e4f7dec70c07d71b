package pending

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// A sweep looks up the documents on this instance's partitions whose
// callback is late: one РЭМД registered is settled from the lookup, one it
// does not know stays pending; it leaves documents not late yet and those
// of other instances' partitions alone, and forgets settled documents and
// orphans past keep_done.
func TestSweepLooksUpLateDocumentsAndForgetsOldOnes(t *testing.T) {
	c, ctx, cat := pendingCluster(t)
	const reconcile, keep = time.Minute, time.Hour
	p, stage := newTestPending(t, c, cat,
		config.Callback{Wait: config.Duration(time.Second), ReconcileAfter: config.Duration(reconcile), KeepDone: config.Duration(keep)},
		slog.New(slog.DiscardHandler))
	now := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	p.cfg.Now = func() time.Time { return now }
	stage.lookups = map[string]Lookup{
		"late-registered": {Result: Found, RegistryID: "16.62.26.11.000000042"},
		"late-unknown":    {Result: NotFound},
		"late-failing":    {Result: LookupFailed},
	}
	rec := func(id string) *StoredRecord {
		return Store(&kgo.Record{Topic: p.cfg.Outbound, Key: []byte("patient"), Value: []byte("{}"),
			Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte(id)}}})
	}
	cb := CallbackResult{RequestID: "gone", Registered: true, RegistryID: "1"}
	entries := map[string]*Entry{
		"late-registered":  {State: StatePending, Partition: 0, SentAt: now.Add(-reconcile), Record: rec("late-registered")},
		"late-unknown":     {State: StatePending, Partition: 0, SentAt: now.Add(-2 * reconcile), Record: rec("late-unknown")},
		"late-failing":     {State: StatePending, Partition: 0, SentAt: now.Add(-2 * reconcile), Record: rec("late-failing")},
		"not-late":         {State: StatePending, Partition: 0, SentAt: now.Add(-reconcile + time.Second), Record: rec("not-late")},
		"late-elsewhere":   {State: StatePending, Partition: 1, SentAt: now.Add(-2 * reconcile), Record: rec("late-elsewhere")},
		"settled-old":      {State: StateRegistered, Partition: 0, RegistryID: "1", Done: now.Add(-keep)},
		"settled-recent":   {State: StateRejected, Partition: 0, Done: now.Add(-keep + time.Second)},
		OrphanKey("gone"):  {State: StateOrphan, Partition: 0, Callback: &cb, LastCB: now.Add(-keep)},
		OrphanKey("fresh"): {State: StateOrphan, Partition: 0, Callback: &cb, LastCB: now.Add(-time.Minute)},
	}
	var recs []*kgo.Record
	for k, e := range entries {
		recs = append(recs, p.entryRecord(k, e))
	}
	if err := p.cfg.Writer.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, p)
	own(t, ctx, p, stage, 0)
	for k := range entries {
		for _, ok := p.Get(k); !ok; _, ok = p.Get(k) {
			if ctx.Err() != nil {
				t.Fatalf("%s never read", k)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	p.sweep(ctx)

	stage.mu.Lock()
	looked := slices.Sorted(slices.Values(stage.looked))
	settled := stage.settled
	stage.mu.Unlock()
	if want := []string{"late-failing", "late-registered", "late-unknown"}; !slices.Equal(looked, want) {
		t.Errorf("looked up %v, want %v", looked, want)
	}
	if len(settled) != 1 || settled[0].Action != Register || settled[0].Entry.RegistryID != "16.62.26.11.000000042" || settled[0].Record == nil {
		t.Errorf("settled %+v, want late-registered registered from the lookup", settled)
	}
	for k, want := range map[string]string{
		"late-registered": StateRegistered, "late-unknown": StatePending, "late-failing": StatePending,
		"not-late": StatePending, "late-elsewhere": StatePending, "settled-recent": StateRejected, OrphanKey("fresh"): StateOrphan,
		"settled-old": "", OrphanKey("gone"): "",
	} {
		e, ok := p.Get(k)
		switch {
		case want == "" && ok:
			t.Errorf("%s kept as %+v, want forgotten", k, e)
		case want != "" && (!ok || e == nil || e.State != want):
			t.Errorf("%s is %+v, want %s", k, e, want)
		}
	}
	if _, ok := p.orphans.Result("gone"); ok {
		t.Error("the forgotten orphan is still kept in memory")
	}
	if _, ok := p.orphans.Result("fresh"); !ok {
		t.Error("the recent orphan was dropped from memory")
	}
	for result, want := range map[string]float64{"registered": 1, "not_found": 1, "error": 1} {
		if got := testutil.ToFloat64(p.m.reconciled.WithLabelValues(result)); got != want {
			t.Errorf("reconciled{result=%s} = %v, want %v", result, got, want)
		}
	}
}
