package prescription

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

var t0 = time.Date(2024, 3, 20, 15, 5, 0, 0, datetime.Moscow)

func issued(qty float64) *Record {
	return Issue(&topics.PrescriptionEvent{
		Series: "42-24", Number: "000731", RegionCode: "42", ValidUntil: "2024-04-19",
		Quantity: topics.Quantity{Value: qty, Unit: "упаковка"},
	}, "11223344595", t0)
}

func disp(chain string, qty float64, at string) *topics.DispensationEvent {
	return &topics.DispensationEvent{DispensationID: chain + "-1", PharmacyChain: chain, PharmacyID: chain + "-0142",
		Quantity: topics.Quantity{Value: qty, Unit: "упаковка"}, DispensedAt: topics.DateTime(at)}
}

const inTime = "2024-03-21T11:20:00+03:00"

// step is one event in a prescription's life: a dispensation (chain and
// quantity), a cancellation, or the clock reaching a time.
type step struct {
	chain  string
	qty    float64
	at     string // dispensed_at
	unit   string
	cancel bool
	clock  time.Time // expire at this time
	now    time.Time // when the dispensation or cancellation is decided; default an hour after issue
	// what must follow: the state and what is left, or a refusal's code
	state  string
	left   float64
	refuse string
}

type lifeCase struct {
	name  string
	qty   float64
	steps []step
}

func TestLife(t *testing.T) {
	for _, tc := range lives() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t) })
	}
}

func lives() []lifeCase {
	return []lifeCase{
		{"dispensed in two parts", 2, []step{
			{chain: "a", qty: 1, state: PartlyDispensed, left: 1},
			{chain: "a", qty: 1, state: Dispensed, left: 0},
			{chain: "a", qty: 1, refuse: reasons.RxAlreadyDispensed},
		}},
		{"two chains race for all of it", 2, []step{
			{chain: "a", qty: 2, state: Dispensed},
			{chain: "b", qty: 2, refuse: reasons.RxAlreadyDispensed},
			{cancel: true, refuse: reasons.RxAlreadyDispensed},
		}},
		{"more than is left", 2, []step{
			{chain: "a", qty: 1.5, state: PartlyDispensed, left: 0.5},
			{chain: "b", qty: 0.6, refuse: reasons.RxQuantityExceeded},
			{chain: "b", qty: 0.5, state: Dispensed},
		}},
		{"tenths add up", 0.3, []step{
			{chain: "a", qty: 0.1, state: PartlyDispensed, left: 0.2},
			{chain: "a", qty: 0.2, state: Dispensed},
		}},
		{"cancelled after a part", 2, []step{
			{chain: "a", qty: 1, state: PartlyDispensed, left: 1},
			{cancel: true, state: Cancelled, left: 1},
			{chain: "b", qty: 1, refuse: reasons.RxCancelled},
			{cancel: true, refuse: reasons.RxCancelled},
			{clock: t0.AddDate(1, 0, 0), state: Cancelled, left: 1},
		}},
		{"expires at the end of its last day, Moscow time", 2, []step{
			{clock: time.Date(2024, 4, 19, 23, 59, 59, 0, datetime.Moscow), state: Issued, left: 2},
			{clock: time.Date(2024, 4, 19, 21, 0, 0, 0, time.UTC), state: Expired, left: 2},
			{chain: "a", qty: 1, refuse: reasons.RxExpired},
			{cancel: true, refuse: reasons.RxExpired},
		}},
		{"dispensed after the last day, before the timer", 2, []step{
			{chain: "a", qty: 1, at: "2024-04-20T00:00:00+03:00", refuse: reasons.RxExpired},
			{chain: "a", qty: 1, at: "2024-04-19T23:59:00+03:00", state: PartlyDispensed, left: 1},
		}},
		{"decided after the last day, before the timer marked it", 2, []step{
			{chain: "a", qty: 1, now: time.Date(2024, 4, 20, 0, 0, 0, 0, datetime.Moscow), refuse: reasons.RxExpired},
			{cancel: true, now: time.Date(2024, 4, 19, 21, 0, 1, 0, time.UTC), refuse: reasons.RxExpired},
			{chain: "a", qty: 1, now: time.Date(2024, 4, 19, 23, 59, 59, 0, datetime.Moscow), state: PartlyDispensed, left: 1},
		}},
		{"another unit", 2, []step{
			{chain: "a", qty: 1, unit: "таблетка", refuse: reasons.RxUnitMismatch},
		}},
	}
}

func (tc lifeCase) run(t *testing.T) {
	r := issued(tc.qty)
	for i, s := range tc.steps {
		var next *Record
		var ref *Refusal
		now := t0.Add(time.Hour)
		if !s.now.IsZero() {
			now = s.now
		}
		switch {
		case s.cancel:
			next, ref = r.Cancel(now)
		case !s.clock.IsZero():
			next = r.Expire(s.clock)
			if next == nil {
				next = r
			}
		default:
			d := disp(s.chain, s.qty, inTime)
			if s.at != "" {
				d.DispensedAt = topics.DateTime(s.at)
			}
			if s.unit != "" {
				d.Quantity.Unit = s.unit
			}
			next, ref = r.Dispense(d, "11223344595", now)
		}
		switch {
		case s.refuse != "" && (ref == nil || ref.Code != s.refuse):
			t.Fatalf("step %d: %+v, %+v; want refused with %s", i, next, ref, s.refuse)
		case s.refuse != "":
			if strings.Contains(ref.Detail, "11223344595") {
				t.Errorf("step %d: the refusal names the patient", i)
			}
			continue // the state stays
		case ref != nil:
			t.Fatalf("step %d: refused %+v; want %s", i, ref, s.state)
		case next.State != s.state || next.Remaining != s.left:
			t.Fatalf("step %d: %s with %g left; want %s with %g", i, next.State, next.Remaining, s.state, s.left)
		}
		r = next
	}
}

// TestEveryCodeTheStateMachineCanEmit: each reason code this package names
// is in the catalog and refused by a case of TestLife or
// TestAnotherPatientIsRefused.
func TestEveryCodeTheStateMachineCanEmit(t *testing.T) {
	used := testtool.ReasonCodesUsed(t, filepath.Join("..", "reasons", "reasons.go"), ".")
	covered := map[string]bool{reasons.RxPatientMismatch: true}
	for _, tc := range lives() {
		for _, s := range tc.steps {
			covered[s.refuse] = true
		}
	}
	cat := reasons.Default()
	testtool.RequireCodesCovered(t, used, func(c string) bool { _, ok := cat.Lookup(c); return ok },
		func(c string) bool { return covered[c] }, "TestLife")
}

func TestAnotherPatientIsRefused(t *testing.T) {
	_, ref := issued(2).Dispense(disp("a", 1, inTime), "enp:5056410878123457", t0)
	if ref == nil || ref.Code != reasons.RxPatientMismatch {
		t.Fatalf("dispensed to another patient key: %+v", ref)
	}
}

func TestRecordHoldsNoPersonalData(t *testing.T) {
	r, _ := issued(2).Dispense(disp("a", 1, inTime), "11223344595", t0)
	b := string(r.Encode())
	if strings.Contains(b, "11223344595") || strings.Contains(b, "Иванова") {
		t.Errorf("record holds personal data: %s", b)
	}
	back, err := Decode(r.Encode())
	if err != nil || back.State != PartlyDispensed || back.Remaining != 1 || back.ExpiresAt() != r.ExpiresAt() {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if _, err := Decode([]byte("{")); err == nil {
		t.Error("garbage decodes")
	}
	if _, _ = back.Dispense(disp("a", 1, inTime), "11223344595", t0); back.Remaining != 1 {
		t.Error("Dispense changed the record it was called on")
	}
}

func TestExpiresAtIsZeroOnceClosed(t *testing.T) {
	r := issued(1)
	if got, want := r.ExpiresAt(), time.Date(2024, 4, 20, 0, 0, 0, 0, datetime.Moscow); !got.Equal(want) {
		t.Errorf("expires at %s, want %s", got, want)
	}
	done, _ := r.Dispense(disp("a", 1, inTime), "11223344595", t0)
	if !done.ExpiresAt().IsZero() {
		t.Error("a dispensed prescription still expires")
	}
}
