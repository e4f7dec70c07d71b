package pending

import (
	"reflect"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

func TestSettle(t *testing.T) {
	sent := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	now := sent.Add(time.Minute)
	first := sent.Add(10 * time.Second)
	rec := &StoredRecord{Topic: "egisz.out.remd.v1", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("{}")}
	pending := func(resends int) *Entry {
		return &Entry{State: StatePending, Partition: 2, SentAt: sent, Resends: resends, Record: rec}
	}
	registered := &Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-1", FirstCB: first, LastCB: first, Callbacks: 1, Done: first}
	reasons := []topics.Reason{{Code: "SIGNATURE_INVALID"}}
	ok := CallbackResult{RequestID: "d-1", Registered: true, RegistryID: "E-1"}
	failed := CallbackResult{RequestID: "d-1", Reasons: reasons}
	transient := CallbackResult{RequestID: "d-1", Retry: true, Reasons: reasons}

	for _, tc := range []struct {
		name  string
		e     *Entry
		owned bool
		ev    Event
		want  Settlement
	}{
		{"the first callback registers", pending(0), true, Event{Kind: Callback, Result: ok}, Settlement{
			Action: Register, Key: "d-1", Record: rec,
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-1", FirstCB: now, LastCB: now, Callbacks: 1, Done: now}}},
		{"the first callback rejects, with its reasons", pending(1), true, Event{Kind: Callback, Result: failed}, Settlement{
			Action: Reject, Key: "d-1", Record: rec, Reasons: reasons,
			Entry: Entry{State: StateRejected, Partition: 2, SentAt: sent, Resends: 1, FirstCB: now, LastCB: now, Callbacks: 1, Done: now}}},
		{"transient errors send it again", pending(ResendLimit - 1), true, Event{Kind: Callback, Result: transient}, Settlement{
			Action: Resend, Key: "d-1", Record: rec,
			Entry: Entry{State: StateResent, Partition: 2, SentAt: sent, Resends: ResendLimit - 1, FirstCB: now, LastCB: now, Callbacks: 1, Done: now}}},
		{"transient errors past the re-sends park it", pending(ResendLimit), true, Event{Kind: Callback, Result: transient}, Settlement{
			Action: Reject, Key: "d-1", Record: rec, Reasons: reasons,
			Entry: Entry{State: StateRejected, Partition: 2, SentAt: sent, Resends: ResendLimit, FirstCB: now, LastCB: now, Callbacks: 1, Done: now}}},
		{"a later callback is only noted", registered, true, Event{Kind: Callback, Result: ok}, Settlement{
			Action: Note, Key: "d-1",
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-1", FirstCB: first, LastCB: now, Callbacks: 2, Done: first}}},
		{"a later callback naming another emdrId: the first stands", registered, false, Event{Kind: Callback, Result: CallbackResult{RequestID: "d-1", Registered: true, RegistryID: "E-2"}}, Settlement{
			Action: Note, Key: "d-1", OtherRegistryID: "E-2",
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-1", FirstCB: first, LastCB: now, Callbacks: 2, Done: first}}},
		{"the callback of the sending now pending settles it", pending(1), true, Event{Kind: Callback, Result: ok, Sending: 2}, Settlement{
			Action: Register, Key: "d-1", Record: rec,
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, Resends: 1, RegistryID: "E-1", FirstCB: now, LastCB: now, Callbacks: 1, Done: now}}},
		{"a late callback of an earlier sending does not settle the later one", pending(1), true, Event{Kind: Callback, Result: failed, Sending: 1}, Settlement{
			Action: Stale, Key: "d-1"}},
		{"an early callback of an earlier sending does not settle the later one", pending(2), true, Event{Kind: EarlyCallback, Result: ok, Sending: 2}, Settlement{
			Action: Stale, Key: "d-1"}},
		{"a repeated callback of the sending that asked for a re-send is stale", &Entry{State: StateResent, Partition: 2, SentAt: sent, Resends: 1, Done: first}, true, Event{Kind: Callback, Result: transient, Sending: 1}, Settlement{
			Action: Stale, Key: "d-1"}},
		{"a callback for an unknown document is kept as an orphan", nil, false, Event{Kind: Callback, Result: ok, Source: "10.0.0.1"}, Settlement{
			Action: Orphan, Key: OrphanKey("d-1"),
			Entry: Entry{State: StateOrphan, Callback: &ok, FirstCB: now, LastCB: now, Callbacks: 1, Source: "10.0.0.1"}}},
		{"a callback for a document another instance owns is kept as an orphan", pending(0), false, Event{Kind: Callback, Result: ok, Source: "10.0.0.1"}, Settlement{
			Action: Orphan, Key: OrphanKey("d-1"),
			Entry: Entry{State: StateOrphan, Callback: &ok, FirstCB: now, LastCB: now, Callbacks: 1, Source: "10.0.0.1"}}},
		{"an early callback settles its document once pending here, not counted again", pending(0), true, Event{Kind: EarlyCallback, Result: ok}, Settlement{
			Action: Register, Key: "d-1", Record: rec,
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-1", Done: now}}},
		{"an early callback waits while another instance owns the document", pending(0), false, Event{Kind: EarlyCallback, Result: ok}, Settlement{}},
		{"an early callback for a settled document does nothing", registered, true, Event{Kind: EarlyCallback, Result: ok}, Settlement{}},
		{"no callback: the lookup registers it", pending(0), true, Event{Kind: LookedUp, Result: CallbackResult{RequestID: "d-1", Registered: true, RegistryID: "E-9"}}, Settlement{
			Action: Register, Key: "d-1", Record: rec,
			Entry: Entry{State: StateRegistered, Partition: 2, SentAt: sent, RegistryID: "E-9", Done: now}}},
		{"a lookup after the callback settled it does nothing", registered, true, Event{Kind: LookedUp, Result: ok}, Settlement{}},
		{"a lookup of an unknown document does nothing", nil, true, Event{Kind: LookedUp, Result: ok}, Settlement{}},
		{"a pending entry without its record is never settled", &Entry{State: StatePending, Partition: 2}, true, Event{Kind: LookedUp, Result: ok}, Settlement{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before Entry
			if tc.e != nil {
				before = *tc.e
			}
			got := Settle("d-1", tc.e, tc.owned, tc.ev, now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Settle:\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.e != nil && !reflect.DeepEqual(*tc.e, before) {
				t.Errorf("Settle changed the stored entry: %+v, was %+v", *tc.e, before)
			}
		})
	}
}

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const reconcile, keep = 10 * time.Minute, time.Hour
	for _, tc := range []struct {
		name  string
		e     *Entry
		owned bool
		want  Due
	}{
		{"pending, its callback not late yet", &Entry{State: StatePending, SentAt: now.Add(-reconcile + time.Second)}, true, Keep},
		{"pending, its callback late: looked up", &Entry{State: StatePending, SentAt: now.Add(-reconcile)}, true, LookUp},
		{"pending on another instance's partition", &Entry{State: StatePending, SentAt: now.Add(-2 * reconcile)}, false, Keep},
		{"settled within keep_done", &Entry{State: StateRegistered, Done: now.Add(-keep + time.Second)}, true, Keep},
		{"settled past keep_done: forgotten", &Entry{State: StateRejected, Done: now.Add(-keep)}, true, Forget},
		{"settled past keep_done, not ours", &Entry{State: StateResent, Done: now.Add(-2 * keep)}, false, Keep},
		{"an orphan by its last callback, within keep_done", &Entry{State: StateOrphan, FirstCB: now.Add(-2 * keep), LastCB: now.Add(-time.Minute)}, true, Keep},
		{"an orphan past keep_done: forgotten", &Entry{State: StateOrphan, LastCB: now.Add(-keep)}, true, Forget},
		{"a tombstone", nil, true, Keep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Overdue(tc.e, tc.owned, now, reconcile, keep); got != tc.want {
				t.Errorf("Overdue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	rec := &StoredRecord{Topic: "t", Key: []byte("k"), Value: []byte("v"), Headers: map[string]string{"ce_id": "d-1"}, Order: []string{"ce_id"}}
	pendingEntry := &Entry{State: StatePending, Partition: 1, Record: rec}
	cb := CallbackResult{RequestID: "d-1", Registered: true, RegistryID: "E-1"}
	orphan := &Entry{State: StateOrphan, Callback: &cb, Source: "s"}
	for _, tc := range []struct {
		name       string
		key, value []byte
		want       Decoded
		wantErr    error
	}{
		{"a pending entry round-trips", []byte("d-1"), pendingEntry.Encode(), Decoded{Key: "d-1", Entry: pendingEntry}, nil},
		{"an orphan names its document", []byte(OrphanKey("d-1")), orphan.Encode(), Decoded{Key: OrphanKey("d-1"), Entry: orphan, OrphanOf: "d-1"}, nil},
		{"a tombstone", []byte("d-1"), nil, Decoded{Key: "d-1"}, nil},
		{"an orphan's tombstone", []byte(OrphanKey("d-1")), nil, Decoded{Key: OrphanKey("d-1"), OrphanOf: "d-1"}, nil},
		{"not JSON", []byte("d-1"), []byte("{"), Decoded{}, ErrNotAnEntry},
		{"pending without its record", []byte("d-1"), []byte(`{"state":"pending","partition":1}`), Decoded{}, ErrNotAnEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.key, tc.value)
			if err != tc.wantErr {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestStoredRecordKeepsHeaderOrder(t *testing.T) {
	sr := &StoredRecord{Topic: "t", Partition: 3, Offset: 9, Key: []byte("k"), Value: []byte("v"),
		Headers: map[string]string{"b": "2", "a": "1", "c": "3"}, Order: []string{"b", "a", "c"}}
	r := sr.Record()
	var keys []string
	for _, h := range r.Headers {
		keys = append(keys, h.Key)
	}
	if !reflect.DeepEqual(keys, sr.Order) {
		t.Fatalf("headers %v, want in the order %v", keys, sr.Order)
	}
	if back := Store(r); !reflect.DeepEqual(back, sr) {
		t.Errorf("Store(Record()) = %+v, want %+v", back, sr)
	}
}

func TestPartitionOfSpreadsWithinTheTopic(t *testing.T) {
	for _, n := range []int32{1, 6, 24} {
		seen := map[int32]bool{}
		for i := range 1000 {
			p := PartitionOf(string(rune('a'+i%26))+string(rune(i)), n)
			if p < 0 || p >= n {
				t.Fatalf("PartitionOf(_, %d) = %d", n, p)
			}
			seen[p] = true
		}
		if int32(len(seen)) != n {
			t.Errorf("over %d partitions only %d used", n, len(seen))
		}
	}
}
