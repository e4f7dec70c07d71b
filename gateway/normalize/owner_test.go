package normalize_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/normalize"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// owning is passThrough whose events name a business id (the ce_source
// header, here) that must keep to one patient (the key): the owner check
// of a domain, without the domain.
type owning struct{ passThrough }

func (owning) Decide(in normalize.Input, now time.Time) normalize.Verdict {
	v := passThrough{}.Decide(in, now)
	v.DedupKey = string(in.Key) + "|" + in.Headers["ce_source"]
	v.Fingerprint = uint64(len(in.Value))
	v.Version = int64(len(in.Value))
	v.Owner = in.Headers["ce_source"]
	return v
}

func (owning) Claim(owner, patientKey string, side normalize.SideReader) ([]normalize.SideWrite, []topics.Reason) {
	held, ok := side.Side("owner", owner)
	switch {
	case !ok:
		return []normalize.SideWrite{{Table: "owner", Key: owner, Value: []byte(patientKey)}}, nil
	case string(held) == patientKey:
		return nil, nil
	}
	return nil, []topics.Reason{{Code: "CROSS_PATIENT_DUPLICATE", Owner: "clinic", MessageRU: "x", MessageEN: "first " + string(held)}}
}

// startOwning runs the stage with the owning domain until the returned
// stop is called.
func startOwning(t *testing.T, ctx context.Context, kc *kafkatest.Cluster, cat topics.Catalog, instance string) (stop func()) {
	return startStage(t, ctx, normalize.Config{Catalog: cat, Prefix: kc.Prefix, InstanceID: instance,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Log: quiet()}, owning{})
}

// startStage runs a stage until the returned stop is called.
func startStage(t *testing.T, ctx context.Context, cfg normalize.Config, d normalize.Domain) (stop func()) {
	t.Helper()
	st, err := normalize.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestSameBusinessIDUnderAnotherPatientIsParked runs the stage with an
// owner-checking domain: one business id first for patient A (accepted,
// forwarded), then, after the stage restarts, for patient B (conflict,
// parked with the reason, not forwarded), and for A again with new content
// (an update, forwarded). Without the hop, B's event is a new dedup key of
// another patient and is accepted.
func TestSameBusinessIDUnderAnotherPatientIsParked(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	cat := topics.Default().WithPrefix(kc.Prefix)
	createAll(t, ctx, kadm.NewClient(kc.Client(t)), cat)
	run := func() (stop func()) { return startOwning(t, ctx, kc, cat, "owner") }
	pub := kc.Client(t)
	send := func(patient, business, ceID, value string) {
		t.Helper()
		r := input(kc.Prefix, ceID)
		r.Key, r.Value = []byte(patient), []byte(value)
		r.Headers[2].Value = []byte(business) // ce_source
		if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	statuses := kafkatest.NewReader(t, kc, kc.Prefix+topics.StatusTopic)
	outcome := func(ceID string) func([]*kgo.Record) bool {
		return func(rs []*kgo.Record) bool { return find(rs, ceID) != nil }
	}

	stop := run()
	send("11223344595", "case-1", "a-1", `{"v":1}`)
	statuses.Wait(t, ctx, outcome("a-1"))
	stop() // the owner must come back from the changelog
	stop = run()
	defer stop()
	send("98765432183", "case-1", "b-1", `{"v":1}`)
	send("98765432183", "case-2", "b-2", `{"v":1}`) // another business id: B's own
	send("11223344595", "case-1", "a-2", `{"v":22}`)
	statuses.Wait(t, ctx, outcome("b-1"))
	// The same event again, once the refusal is back in B's partition (its
	// dedup entry deleted: a tombstone in the changelog): refused again,
	// not a duplicate of something never forwarded.
	kafkatest.NewReader(t, kc, kc.Prefix+topics.NormalizeState).Wait(t, ctx, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			if r.Value == nil {
				return true
			}
		}
		return false
	})
	send("98765432183", "case-1", "b-1-again", `{"v":1}`)
	got := statuses.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 5 })
	want := map[string]string{"a-1": "accepted", "b-1": "conflict CROSS_PATIENT_DUPLICATE", "b-2": "accepted", "a-2": "update",
		"b-1-again": "conflict CROSS_PATIENT_DUPLICATE"}
	outcomes := map[string][]string{}
	for _, r := range got {
		s, o := statusOf(t, r)
		if len(s.Reasons) > 0 {
			if !strings.Contains(s.Reasons[0].MessageEN, "11223344595") {
				t.Errorf("%s: reason %+v does not carry the domain's text", s.CEID, s.Reasons[0])
			}
		}
		if s.Ingress == nil || !strings.HasSuffix(s.Ingress.Topic, topics.RMISCase) {
			t.Errorf("%s: status names ingress %+v, not the ingress record", s.CEID, s.Ingress)
		}
		outcomes[s.CEID] = append(outcomes[s.CEID], o)
	}
	for id, o := range want {
		if len(outcomes[id]) != 1 || outcomes[id][0] != o {
			t.Errorf("%s: outcomes %v, want exactly [%s]", id, outcomes[id], o)
		}
	}
	outbound := kafkatest.NewReader(t, kc, kc.Prefix+topics.Outbound(topics.RegistryIEMK))
	outbound.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 3 })
	time.Sleep(time.Second) // anything written besides would show now
	out := outbound.Wait(t, ctx, func([]*kgo.Record) bool { return true })
	for id, n := range map[string]int{"a-1": 1, "a-2": 1, "b-2": 1, "b-1": 0, "b-1-again": 0} {
		c := 0
		for _, r := range out {
			if find([]*kgo.Record{r}, id) != nil {
				c++
			}
		}
		if c != n {
			t.Errorf("%s forwarded %d times, want %d", id, c, n)
		}
	}
	parked := kafkatest.NewReader(t, kc, kc.Prefix+topics.DLQIngress).Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 2 })
	p := find(parked, "b-1")
	if len(parked) != 2 || p == nil || find(parked, "b-1-again") == nil {
		t.Fatalf("parked %d records; want b-1 and b-1-again", len(parked))
	}
	if !strings.HasSuffix(p.Topic, topics.DLQIngress) || string(p.Key) != "98765432183" || string(p.Value) != `{"v":1}` {
		t.Errorf("parked record is not the ingress record byte for byte: key %q value %q", p.Key, p.Value)
	}
	hs := map[string]string{}
	for _, h := range p.Headers {
		hs[h.Key] = string(h.Value)
	}
	if hs[record.HReason] != "CROSS_PATIENT_DUPLICATE" || hs[record.HBusinessID] != "case-1" || !strings.HasSuffix(hs[record.HOrigTopic], topics.RMISCase) {
		t.Errorf("parked headers %v", hs)
	}
}

// TestMisplacedRecordIsDecidedOnItsKeysPartition publishes one event on
// another partition than its key's (a publisher whose partitioner is not
// murmur2) and the same content again on the key's own: one is accepted,
// the other is its duplicate, and the registry's topic gets it once. On
// the partition it came on, each would be a first: two registrations.
func TestMisplacedRecordIsDecidedOnItsKeysPartition(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	cat := topics.Default().WithPrefix(kc.Prefix)
	createAll(t, ctx, kadm.NewClient(kc.Client(t)), cat)
	defer startOwning(t, ctx, kc, cat, "misplaced")()
	pub := kc.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const key = "11223344595"
	own := int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: []byte(key)}, int(topics.PatientPartitions)))
	for _, tc := range []struct {
		id        string
		partition int32
	}{{"m-wrong", (own + 1) % topics.PatientPartitions}, {"m-right", own}} {
		r := input(kc.Prefix, tc.id)
		r.Partition = tc.partition
		if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	statuses := kafkatest.NewReader(t, kc, kc.Prefix+topics.StatusTopic)
	got := statuses.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 2 })
	outcomes := map[string]int{}
	for _, r := range got {
		s, _ := statusOf(t, r)
		outcomes[s.Outcome]++
		if s.CEID == "m-wrong" && (s.Ingress == nil || s.Ingress.Partition != (own+1)%topics.PatientPartitions) {
			t.Errorf("status of the misplaced record names %+v, not the partition it came on", s.Ingress)
		}
	}
	if len(got) != 2 || outcomes["accepted"] != 1 || outcomes["duplicate"] != 1 {
		t.Errorf("outcomes %v; want one accepted and one duplicate", outcomes)
	}
	outbound := kafkatest.NewReader(t, kc, kc.Prefix+topics.Outbound(topics.RegistryIEMK))
	outbound.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	time.Sleep(time.Second) // a second registration would show now
	if out := outbound.Wait(t, ctx, func([]*kgo.Record) bool { return true }); len(out) != 1 {
		t.Errorf("%d outbound records, want 1", len(out))
	}

	// The same business id for patient B, on the wrong partition for B:
	// refused in the business id's partition, and the dedup entry it wrote
	// in B's own partition (not the one it came on) is put back, so B's
	// next try is refused again.
	const other = "98765432183"
	otherOwn := int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: []byte(other)}, int(topics.PatientPartitions)))
	r := input(kc.Prefix, "x-wrong")
	r.Key, r.Partition = []byte(other), (otherOwn+1)%topics.PatientPartitions
	if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kafkatest.NewReader(t, kc, kc.Prefix+topics.NormalizeState).Wait(t, ctx, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			if r.Value == nil && r.Partition == otherOwn {
				return true
			}
		}
		return false
	})
	r = input(kc.Prefix, "x-again")
	r.Key, r.Partition = []byte(other), otherOwn
	if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got = statuses.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 4 })
	for _, r := range got {
		if s, o := statusOf(t, r); strings.HasPrefix(s.CEID, "x-") && o != "conflict CROSS_PATIENT_DUPLICATE" {
			t.Errorf("%s: %s, want conflict CROSS_PATIENT_DUPLICATE", s.CEID, o)
		}
	}
}
