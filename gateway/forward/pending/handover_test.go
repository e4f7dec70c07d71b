package pending

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// A partition of РЭМД's documents moves to this instance while the table
// has not yet read what the previous owner settled there. Until it has,
// this instance must not settle the partition's documents: it would find
// a document the previous owner registered still pending, and register
// it a second time (TestForwardRebalanceRegistersEachOnce caught two
// "registered" statuses for one document). And an instance losing a
// partition returns from the revocation only once its settlements in
// flight are committed, so that the next owner reads them.
func TestSettlingWaitsForThePreviousOwnersWrites(t *testing.T) {
	c, ctx, cat := pendingCluster(t)
	pendingTopic := c.Prefix + topics.REMDPendingState
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	p, stage := newTestPending(t, c, cat, config.Callback{}, slog.New(slog.DiscardHandler))
	defer p.Close()

	// The previous owner registered d-1, on partition 0.
	entry, _ := json.Marshal(Entry{State: StateRegistered, Partition: 0, RegistryID: "16.62.26.11.000000001"})
	if err := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, &kgo.Record{Topic: pendingTopic, Partition: 0, Key: []byte("d-1"), Value: entry}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stage.hold(0)
	p.Assigned(ctx, []int32{0})
	for known := false; !known; {
		p.owner.mu.Lock()
		_, known = p.owner.settleFrom[0]
		p.owner.mu.Unlock()
		if ctx.Err() != nil {
			t.Fatal("the partition's offset was never learnt")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.owns(0) {
		t.Fatal("settles partition 0's documents before its table read any of them")
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = p.table.Run(runCtx, opts) }()
	for !p.owns(0) {
		if ctx.Err() != nil {
			t.Fatal("never settles partition 0's documents")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e, ok := p.table.Get("d-1"); !ok || e.State != StateRegistered {
		t.Errorf("settles partition 0's documents with d-1 %+v in its table, want registered", e)
	}

	// A settlement in flight holds the revocation back.
	p.owner.handover.RLock()
	revoked := make(chan struct{})
	go func() {
		stage.release(0)
		p.Revoked()
		close(revoked)
	}()
	select {
	case <-revoked:
		t.Fatal("the revocation returned with a settlement in flight")
	case <-time.After(200 * time.Millisecond):
	}
	if p.owns(0) {
		t.Error("still settles partition 0 after losing it")
	}
	p.owner.handover.RUnlock()
	select {
	case <-revoked:
	case <-ctx.Done():
		t.Fatal("the revocation never returned")
	}
}
