package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// testClock is a clock the test moves.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *testClock) day(offset int) string {
	return c.Now().In(datetime.Moscow).AddDate(0, 0, offset).Format("2006-01-02")
}

// collector keeps every record of a topic, read_committed, as it comes.
type collector struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func collect(t *testing.T, kc *kafkatest.Cluster, topic string) *collector {
	c := &collector{}
	cl := kc.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { c.recs = append(c.recs, r) })
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) all() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// pharmacyStack is the gateway in-process with a clock the test moves,
// and readers of the statuses and of the pharmacy topic.
type pharmacyStack struct {
	ctx      context.Context
	cl       *kgo.Client
	prefix   string
	clock    *testClock
	em       *registryEmulator
	status   *collector
	pharmacy *collector
	w        *forwarder
}

func startPharmacyStack(t *testing.T) *pharmacyStack {
	kc, ctx, cl := forwardCluster(t)
	seedReferences(t, ctx, cl, kc.Prefix)
	em := startTestEmulator(t)
	cfg := forwardConfig(kc, em)
	cfg.Normalize.TimersEvery = config.Duration(200 * time.Millisecond)
	clock := newTestClock(time.Date(2026, 11, 22, 12, 0, 0, 0, datetime.Moscow))
	w := startWorkersAt(t, kc, cfg, clock.Now, newNormalize, forwardStages)
	return &pharmacyStack{ctx: ctx, cl: cl, prefix: kc.Prefix, clock: clock, em: em, w: w,
		status: collect(t, kc, kc.Prefix+topics.StatusTopic), pharmacy: collect(t, kc, kc.Prefix+topics.PharmacyRx)}
}

var rxSeq atomic.Int64

// rx is one prescription of the test: its patient, series and number.
type rx struct {
	snils, series, number string
}

func newRx(i int) rx {
	return rx{snils: ident.MakeSNILS(400_000_000 + i*17), series: "42-26", number: fmt.Sprintf("%06d", 100+i)}
}

func (p rx) id() string { return p.series + "/" + p.number }

func ceRecord(topic, key, ceID, ceType, source string, body map[string]any) *kgo.Record {
	b, _ := json.Marshal(body)
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte(source)}, {Key: "ce_type", Value: []byte(ceType)},
		{Key: "content-type", Value: []byte("application/json")},
	}}
}

// issue is the MIS issuing (or, with cancel, cancelling) p for qty packs,
// valid until the given day.
func (s *pharmacyStack) issue(t *testing.T, p rx, qty float64, validUntil string, cancel bool) string {
	m := example(t, "prescription.json")
	m["series"], m["number"], m["valid_until"] = p.series, p.number, validUntil
	m["issued_at"] = s.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	m["quantity"] = map[string]any{"value": qty, "unit": "упаковка"}
	m["patient"].(map[string]any)["snils"] = p.snils
	if cancel {
		m["action"], m["cancel_reason"] = "cancelled", "ошибка в назначении"
	}
	ceID := fmt.Sprintf("%srx-%d", s.prefix, rxSeq.Add(1))
	produceAll(t, s.ctx, s.cl, []*kgo.Record{ceRecord(s.prefix+topics.RMISPrescription, p.snils, ceID, "ru.egisz.rmis.prescription.v1", "1.2.643.5.1.13.13.12.1.42.202", m)})
	return ceID
}

// dispensation is a chain dispensing qty packs of p.
func (s *pharmacyStack) dispensation(t *testing.T, p rx, chain, dispID string, qty float64) *kgo.Record {
	m := example(t, "dispensation.json")
	m["prescription_series"], m["prescription_number"] = p.series, p.number
	m["dispensation_id"], m["pharmacy_chain"], m["pharmacy_id"] = dispID, chain, chain+"-0001"
	m["quantity"] = map[string]any{"value": qty, "unit": "упаковка"}
	m["dispensed_at"] = s.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	m["patient"].(map[string]any)["snils"] = p.snils
	ceID := fmt.Sprintf("%sdisp-%d", s.prefix, rxSeq.Add(1))
	return ceRecord(s.prefix+topics.PharmacyDispense, p.snils, ceID, "ru.egisz.pharmacy.dispense.v1", chain, m)
}

func (s *pharmacyStack) dispense(t *testing.T, p rx, chain, dispID string, qty float64) string {
	r := s.dispensation(t, p, chain, dispID, qty)
	produceAll(t, s.ctx, s.cl, []*kgo.Record{r})
	return header(r, "ce_id")
}

// outcome waits for the normalize stage's status of an event and returns
// its outcome and first reason code.
func (s *pharmacyStack) outcome(t *testing.T, ceID string) (string, string) {
	t.Helper()
	for {
		for _, r := range s.status.all() {
			var st topics.Status
			if json.Unmarshal(r.Value, &st) != nil || st.CEID != ceID || st.Registry != "" {
				continue
			}
			code := ""
			if len(st.Reasons) > 0 {
				code = st.Reasons[0].Code
			}
			return st.Outcome, code
		}
		if s.ctx.Err() != nil {
			t.Fatalf("no status for %s", ceID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *pharmacyStack) want(t *testing.T, ceID, outcome, code string) {
	t.Helper()
	if got, gotCode := s.outcome(t, ceID); got != outcome || gotCode != code {
		t.Errorf("%s: %s %s, want %s %s", ceID, got, gotCode, outcome, code)
	}
}

// history is what the chains read of a prescription, in order.
func (s *pharmacyStack) history(p rx) []topics.PharmacyPrescription {
	var out []topics.PharmacyPrescription
	for _, r := range s.pharmacy.all() {
		if string(r.Key) != p.id() {
			continue
		}
		var v topics.PharmacyPrescription
		if json.Unmarshal(r.Value, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// states waits until the prescription's history has n changes and returns
// them as "state:remaining".
func (s *pharmacyStack) states(t *testing.T, p rx, n int) []string {
	t.Helper()
	for {
		h := s.history(p)
		if len(h) >= n || s.ctx.Err() != nil {
			var out []string
			for _, v := range h {
				out = append(out, fmt.Sprintf("%s:%g", v.State, v.Remaining.Value))
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestPrescriptionLife: a prescription is issued, dispensed in two parts
// by one chain and refused a third time; the chains read each change in
// order, selectable by region and chain from headers; the prescription and
// both dispensations reach the prescription registry once.
func TestPrescriptionLife(t *testing.T) {
	s := startPharmacyStack(t)
	p := newRx(1)
	issued := s.issue(t, p, 2, s.clock.day(30), false)
	s.want(t, issued, "accepted", "")
	d1 := s.dispense(t, p, "zdorovye", "Z-1", 1)
	s.want(t, d1, "accepted", "")
	d2 := s.dispense(t, p, "zdorovye", "Z-2", 1)
	s.want(t, d2, "accepted", "")
	d3 := s.dispense(t, p, "zdorovye", "Z-3", 1)
	s.want(t, d3, "rejected", "RX_ALREADY_DISPENSED")
	if got := s.states(t, p, 3); !equal(got, []string{"issued:2", "partly_dispensed:1", "dispensed:0"}) {
		t.Errorf("history %v", got)
	}
	h := s.history(p)
	if h[0].Prescribed == nil || h[0].Prescribed.Drug.Name == "" || h[1].Dispensation == nil || h[1].Dispensation.DispensationID != "Z-1" {
		t.Errorf("issued carries the prescription, a dispensation names itself: %+v %+v", h[0], h[1])
	}
	var recs []*kgo.Record
	for _, r := range s.pharmacy.all() {
		if string(r.Key) == p.id() {
			recs = append(recs, r)
		}
	}
	for i, want := range []map[string]string{
		{topics.HeaderRegion: "42", topics.HeaderRxState: "issued", "ce_type": "ru.egisz.pharmacy.prescription.v1"},
		{topics.HeaderRegion: "42", topics.HeaderRxState: "partly_dispensed", topics.HeaderPharmacyChain: "zdorovye", topics.HeaderPharmacyID: "zdorovye-0001"},
		{topics.HeaderRxState: "dispensed", topics.HeaderPharmacyChain: "zdorovye"},
	} {
		for k, v := range want {
			if got := header(recs[i], k); got != v {
				t.Errorf("change %d: header %s = %q, want %q", i, k, got, v)
			}
		}
		if header(recs[i], "ce_id") == "" {
			t.Errorf("change %d has no ce_id", i)
		}
	}
	// The prescription registry gets the prescription and both dispensations, once each.
	deadline := time.Now().Add(30 * time.Second)
	for s.em.Stats(emulator.ERX).Registered < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	st := s.em.Stats(emulator.ERX)
	for _, id := range []string{issued, d1, d2} {
		if st.ByKey[id] != 1 {
			t.Errorf("%s reached the prescription registry %d times", id, st.ByKey[id])
		}
	}
	if st.ByKey[d3] != 0 {
		t.Error("the refused dispensation reached the registry")
	}
}

// TestTwoChainsRaceForAPrescription: two chains dispense the same
// prescriptions in full at the same moment: for each, exactly one
// succeeds and the other is refused with RX_ALREADY_DISPENSED.
func TestTwoChainsRaceForAPrescription(t *testing.T) {
	s := startPharmacyStack(t)
	const n = 20
	var rxs []rx
	for i := range n {
		p := newRx(100 + i)
		rxs = append(rxs, p)
		s.issue(t, p, 1, s.clock.day(10), false)
	}
	for _, p := range rxs {
		s.states(t, p, 1)
	}
	var race []*kgo.Record
	for i, p := range rxs {
		a, b := s.dispensation(t, p, "zdorovye", fmt.Sprintf("Z-%d", i), 1), s.dispensation(t, p, "aptekaplus", fmt.Sprintf("A-%d", i), 1)
		if i%2 == 1 {
			a, b = b, a
		}
		race = append(race, a, b)
	}
	produceAll(t, s.ctx, s.cl, race) // one produce: both land in the same batch
	for i, p := range rxs {
		a, ca := s.outcome(t, header(race[2*i], "ce_id"))
		b, cb := s.outcome(t, header(race[2*i+1], "ce_id"))
		if !(a == "accepted" && b == "rejected" && cb == "RX_ALREADY_DISPENSED") && !(b == "accepted" && a == "rejected" && ca == "RX_ALREADY_DISPENSED") {
			t.Errorf("%s: %s %s and %s %s; want one accepted, one refused as already dispensed", p.id(), a, ca, b, cb)
		}
		if got := s.states(t, p, 2); !equal(got, []string{"issued:1", "dispensed:0"}) {
			t.Errorf("%s: history %v", p.id(), got)
		}
	}
}

// TestPrescriptionExpiresOnTime: at the end of its last valid day the
// prescription expires with no event to say so, the chains are told, and a
// later dispensation is refused; a dispensed one does not expire.
func TestPrescriptionExpiresOnTime(t *testing.T) {
	s := startPharmacyStack(t)
	open, done := newRx(200), newRx(201)
	s.want(t, s.issue(t, open, 2, s.clock.day(0), false), "accepted", "")
	s.want(t, s.issue(t, done, 1, s.clock.day(0), false), "accepted", "")
	s.want(t, s.dispense(t, done, "zdorovye", "Z-200", 1), "accepted", "")
	time.Sleep(600 * time.Millisecond) // three timer rounds: nothing is due yet
	if got := s.states(t, open, 1); !equal(got, []string{"issued:2"}) {
		t.Fatalf("before the day ends: %v", got)
	}
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, datetime.Moscow)
	s.clock.Set(end.Add(time.Second))
	if got := s.states(t, open, 2); !equal(got, []string{"issued:2", "expired:2"}) {
		t.Fatalf("after the day ends: %v", got)
	}
	if h := s.history(open); h[1].Prescribed != nil || h[1].Changed == "" {
		t.Errorf("expiry change: %+v", h[1])
	}
	s.want(t, s.dispense(t, open, "zdorovye", "Z-201", 1), "rejected", "RX_EXPIRED")
	time.Sleep(400 * time.Millisecond)
	if got := s.states(t, done, 2); !equal(got, []string{"issued:1", "dispensed:0"}) {
		t.Errorf("a dispensed prescription changed at expiry: %v", got)
	}
}

// TestCancellationAfterAPartialDispensation: what was dispensed stays
// dispensed; the rest may not be.
func TestCancellationAfterAPartialDispensation(t *testing.T) {
	s := startPharmacyStack(t)
	p := newRx(300)
	s.want(t, s.issue(t, p, 3, s.clock.day(30), false), "accepted", "")
	s.want(t, s.dispense(t, p, "zdorovye", "Z-300", 1), "accepted", "")
	cancel := s.issue(t, p, 3, s.clock.day(30), true)
	s.want(t, cancel, "update", "")
	s.want(t, s.dispense(t, p, "aptekaplus", "A-300", 1), "rejected", "RX_CANCELLED")
	if got := s.states(t, p, 3); !equal(got, []string{"issued:3", "partly_dispensed:2", "cancelled:2"}) {
		t.Errorf("history %v", got)
	}
	if h := s.history(p); h[2].Prescribed == nil || h[2].Prescribed.CancelReason == "" {
		t.Errorf("the cancellation does not carry the MIS's reason: %+v", h[2])
	}
	// Cancelling something never issued is refused.
	s.want(t, s.issue(t, newRx(301), 1, s.clock.day(30), true), "rejected", "RX_UNKNOWN")
}

// TestReplayedDispensationIsADuplicate: the same dispensation sent again
// (a chain's retry, an operator's replay) is a duplicate, not a second
// dispensation and not a refusal, even once it used up the prescription.
func TestReplayedDispensationIsADuplicate(t *testing.T) {
	s := startPharmacyStack(t)
	p := newRx(400)
	s.want(t, s.issue(t, p, 1, s.clock.day(30), false), "accepted", "")
	d := s.dispensation(t, p, "zdorovye", "Z-400", 1)
	produceAll(t, s.ctx, s.cl, []*kgo.Record{d})
	s.want(t, header(d, "ce_id"), "accepted", "")
	again := s.dispensation(t, p, "zdorovye", "Z-400", 1)
	again.Value = d.Value // byte for byte, under a new ce_id
	produceAll(t, s.ctx, s.cl, []*kgo.Record{again})
	s.want(t, header(again, "ce_id"), "duplicate", "")
	time.Sleep(300 * time.Millisecond)
	if got := s.states(t, p, 2); !equal(got, []string{"issued:1", "dispensed:0"}) {
		t.Errorf("history %v", got)
	}
}
