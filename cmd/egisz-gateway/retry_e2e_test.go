package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// caseVersion is an outbound ИЭМК case of one treatment case (one dedup
// key) at a version: the creation at 1, updates after.
func caseVersion(t testing.TB, prefix, snils, caseKey string, version int64, ceID string) *kgo.Record {
	r := outbound(t, prefix, topics.RegistryIEMK, "case", "case.json", snils, ceID)
	var ev topics.OutboundEvent
	var raw json.RawMessage
	ev.Event = &raw
	if err := json.Unmarshal(r.Value, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Event, ev.DedupKey, ev.Version, ev.Update = raw, snils+"|case|"+caseKey, version, version > 1
	r.Value, _ = json.Marshal(ev)
	return r
}

func (f *forwarder) parked() *forward.Parked {
	for _, w := range f.workers {
		if p, ok := w.(*forward.Parked); ok {
			return p
		}
	}
	return nil
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRetryTiersKeepOrderPerKey: a case creation fails transiently, its
// update arrives a second later; the update waits behind the creation in
// the tiers and both reach ИЭМК in order, while other patients' events
// flow at once.
func TestRetryTiersKeepOrderPerKey(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	x := ident.MakeSNILS(400_000_001)
	em.SetFaults(emulator.IEMK, emulator.Faults{Unavailable: []string{x}})
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}

	create := caseVersion(t, kc.Prefix, x, "TAP-1", 1, "order-create")
	produceAll(t, ctx, cl, []*kgo.Record{create})
	waitFor(t, ctx, "the creation to be parked", func() bool { return f.parked().Len() == 1 })
	time.Sleep(time.Second)
	update := caseVersion(t, kc.Prefix, x, "TAP-1", 2, "order-update")
	others := batchOf(t, kc.Prefix, topics.RegistryIEMK, 50, "order-others")
	sent := time.Now()
	produceAll(t, ctx, cl, append([]*kgo.Record{update}, others...))
	waitFor(t, ctx, "the update to queue behind", func() bool { return f.parked().Len() == 2 })
	if n := f.metric(t, "egisz_forward_retry_waiting_records", "registry", "iemk"); n != 2 {
		t.Errorf("egisz_forward_retry_waiting_records{registry=iemk} = %v while two records wait, want 2", n)
	}
	if n := f.metric(t, "egisz_forward_retry_waiting_records", "registry", "erx"); n != 0 {
		t.Errorf("egisz_forward_retry_waiting_records{registry=erx} = %v, want 0", n)
	}

	// Unrelated patients are not held up by the parked one.
	got := status.waitTerminal(t, ctx, topics.RegistryIEMK, len(others))
	var othersDone time.Duration
	st := em.Stats(emulator.IEMK)
	for i, k := range st.Order {
		if strings.HasPrefix(k, "order-others-") {
			othersDone = max(othersDone, st.Times[i].Sub(sent))
		}
	}
	for _, r := range others {
		if outs := got[header(r, "ce_id")]; len(outs) != 1 || outs[0] != "registered" {
			t.Errorf("%s: %v", header(r, "ce_id"), outs)
		}
	}
	if slices.Contains(st.Order, "order-create") || slices.Contains(st.Order, "order-update") {
		t.Fatalf("the parked patient was registered while unavailable: %v", st.Order)
	}
	em.SetFaults(emulator.IEMK, emulator.Faults{})
	all := status.waitTerminal(t, ctx, topics.RegistryIEMK, len(others)+2)
	for _, id := range []string{"order-create", "order-update"} {
		if outs := all[id]; len(outs) != 1 || outs[0] != "registered" {
			t.Errorf("%s: %v, want one registered", id, outs)
		}
	}
	order := em.Stats(emulator.IEMK).Order
	ci, ui := slices.Index(order, "order-create"), slices.Index(order, "order-update")
	if ci < 0 || ui < 0 || ci > ui {
		t.Fatalf("ИЭМК received the creation at %d and the update at %d: the update overtook it", ci, ui)
	}
	waitFor(t, ctx, "the tiers to empty", func() bool { return f.parked().Len() == 0 })
	if n := f.metric(t, "egisz_forward_retry_waiting_records", "registry", "iemk"); n != 0 {
		t.Errorf("egisz_forward_retry_waiting_records{registry=iemk} = %v once the tiers are empty, want 0", n)
	}
	t.Logf("while one patient was parked, the last of 50 other patients reached ИЭМК %s after they were sent; the creation then the update reached it in order", othersDone.Round(time.Millisecond))
}

// TestRetryOrderSurvivesRestart: keys parked when the gateway stops are
// still parked when it starts again, and their order holds.
func TestRetryOrderSurvivesRestart(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	x := ident.MakeSNILS(400_000_002)
	em.SetFaults(emulator.IEMK, emulator.Faults{Unavailable: []string{x}})
	cfg := forwardConfig(kc, em)
	f := startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	produceAll(t, ctx, cl, []*kgo.Record{caseVersion(t, kc.Prefix, x, "TAP-2", 1, "restart-create")})
	waitFor(t, ctx, "the creation to be parked", func() bool { return f.parked().Len() == 1 })
	produceAll(t, ctx, cl, []*kgo.Record{caseVersion(t, kc.Prefix, x, "TAP-2", 2, "restart-update")})
	waitFor(t, ctx, "the update to queue behind", func() bool { return f.parked().Len() == 2 })
	f.stop()

	f = startForwarder(t, kc, cfg)
	if n := f.parked().Len(); n != 2 {
		t.Fatalf("after the restart %d records are parked, want 2", n)
	}
	em.SetFaults(emulator.IEMK, emulator.Faults{})
	status.waitTerminal(t, ctx, topics.RegistryIEMK, 2)
	order := em.Stats(emulator.IEMK).Order
	if ci, ui := slices.Index(order, "restart-create"), slices.Index(order, "restart-update"); ci < 0 || ui < 0 || ci > ui {
		t.Fatalf("order after the restart: %v", order)
	}
	if st := em.Stats(emulator.IEMK); st.Registered != 2 {
		t.Errorf("%d registered, want 2", st.Registered)
	}
}

// TestRetryTierOutOfOrderDoesNotLivelock: a tier can hold a key's later
// record before its earlier one, since the outbound stage and the tier
// stage (on different instances) both write to it. Read in one batch, the
// later record queues behind the earlier one, and the earlier one must go
// on regardless: once, both were sent back to the tier together every
// round, forever (the reliability suite's 429 storm found it).
func TestRetryTierOutOfOrderDoesNotLivelock(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	x := ident.MakeSNILS(400_000_003)
	tier := kc.Prefix + topics.Retry(topics.RegistryIEMK, testTiers[0])
	now := time.Now()
	var recs []*kgo.Record
	// The update (seq 200) sits in the tier before the creation (seq 100).
	for _, v := range []struct {
		version int64
		id      string
		seq     int
	}{{2, "inverted-update", 200}, {1, "inverted-create", 100}} {
		r := caseVersion(t, kc.Prefix, x, "TAP-3", v.version, v.id)
		r.Topic = tier
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: forward.HRetryDue, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
			kgo.RecordHeader{Key: forward.HRetryAttempt, Value: []byte("0")},
			kgo.RecordHeader{Key: forward.HRetrySeq, Value: []byte(fmt.Sprint(v.seq))})
		entry, _ := json.Marshal(forward.ParkedEntry{Seq: int64(v.seq), Tier: tier, Since: now})
		recs = append(recs, r, &kgo.Record{Topic: kc.Prefix + topics.RetryParkedState,
			Key: []byte("iemk|" + x + "|case|TAP-3|" + v.id), Value: entry})
	}
	// One produce: the two tier records land in one batch of one partition.
	produceAll(t, ctx, cl, recs)
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := status.waitTerminal(t, wctx, topics.RegistryIEMK, 2)
	for _, id := range []string{"inverted-create", "inverted-update"} {
		if outs := got[id]; len(outs) != 1 || outs[0] != "registered" {
			t.Errorf("%s: %v, want one registered", id, outs)
		}
	}
	order := em.Stats(emulator.IEMK).Order
	if ci, ui := slices.Index(order, "inverted-create"), slices.Index(order, "inverted-update"); ci < 0 || ui < 0 || ci > ui {
		t.Errorf("ИЭМК received %v: the creation must come first", order)
	}
	waitFor(t, wctx, "the tiers to empty", func() bool { return f.parked().Len() == 0 })
}

// TestRetryExhaustingEveryTierParksWithHistory: a record that fails in
// place and in every tier is parked in the DLQ with each round in its
// headers, and its status is failed.
func TestRetryExhaustingEveryTierParksWithHistory(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	y := ident.MakeSNILS(400_000_003)
	em.SetFaults(emulator.IEMK, emulator.Faults{Unavailable: []string{y}})
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	rec := caseVersion(t, kc.Prefix, y, "TAP-3", 1, "exhaust")
	produceAll(t, ctx, cl, []*kgo.Record{rec})
	got := status.waitTerminal(t, ctx, topics.RegistryIEMK, 1)
	if outs := got["exhaust"]; len(outs) != 1 || outs[0] != "failed" {
		t.Fatalf("status %v, want failed", outs)
	}
	parked := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(topics.RegistryIEMK), 1)
	if len(parked) != 1 {
		t.Fatalf("%d records in the DLQ, want 1", len(parked))
	}
	p := parked[0]
	var history []struct {
		Tier   string `json:"tier"`
		Reason string `json:"reason"`
		HTTP   int    `json:"http_status"`
	}
	if err := json.Unmarshal([]byte(header(p, forward.HRetryHistory)), &history); err != nil {
		t.Fatalf("history %q: %v", header(p, forward.HRetryHistory), err)
	}
	wantTiers := []string{kc.Prefix + topics.Outbound(topics.RegistryIEMK)}
	for _, d := range testTiers {
		wantTiers = append(wantTiers, kc.Prefix+topics.Retry(topics.RegistryIEMK, d))
	}
	var tiers []string
	for _, h := range history {
		tiers = append(tiers, h.Tier)
		if h.HTTP != 503 || h.Reason == "" {
			t.Errorf("history entry %+v, want the 503 and its reason", h)
		}
	}
	if !slices.Equal(tiers, wantTiers) {
		t.Errorf("failed in %v, want %v", tiers, wantTiers)
	}
	if header(p, record.HReason) != "RETRIES_EXHAUSTED" || header(p, record.HRetryable) != "true" ||
		!strings.HasPrefix(header(p, forward.HRetryOrigin), kc.Prefix+topics.Outbound(topics.RegistryIEMK)+"/") {
		t.Errorf("DLQ headers reason=%q retryable=%q origin=%q", header(p, record.HReason), header(p, record.HRetryable), header(p, forward.HRetryOrigin))
	}
	if string(p.Value) != string(rec.Value) {
		t.Error("the parked value differs from the outbound one")
	}
	if header(p, forward.HRetryAttempt) != fmt.Sprint(len(wantTiers)) {
		t.Errorf("attempts %q, want %d", header(p, forward.HRetryAttempt), len(wantTiers))
	}
	waitFor(t, ctx, "the tiers to empty", func() bool { return f.parked().Len() == 0 })
}
