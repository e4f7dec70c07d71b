package normalize

import (
	"time"

	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Domain is a Decider as the runtime's normalize stage calls it: it speaks
// the seam's types alone (it satisfies gateway/normalize's Domain and
// Timers without this package importing the runtime), and keeps the
// Decision for Settle in the verdict's Domain note.
type Domain struct{ d *Decider }

// Domain returns the decider as the runtime's normalize stage calls it.
func (d *Decider) Domain() Domain { return Domain{d: d} }

// Ready is nil once the reference data is loaded.
func (d Domain) Ready() error { return d.d.Ready() }

// Reason returns a catalog reason in the contract's form.
func (d Domain) Reason(code string) topics.Reason { return d.d.Reason(code) }

// Decide decides one record as far as the record itself and the reference
// data allow (see Decider.Decide).
func (d Domain) Decide(in seam.Input, now time.Time) seam.Verdict {
	dec := d.d.Decide(in, now)
	return dec.verdict()
}

// Settle finishes a verdict Decide returned with the partition's side
// tables (see Decider.Settle). A verdict without the decider's note (a
// rejection) is left as it is.
func (d Domain) Settle(_ seam.Input, v *seam.Verdict, side seam.SideReader, now time.Time) {
	dec, ok := v.Domain.(*Decision)
	if !ok {
		return
	}
	d.d.Settle(dec, side, now)
	*v = dec.verdict()
}

// Claim checks that an accepted event's business id keeps to the patient
// it first came with (see Decider.Claim).
func (d Domain) Claim(owner, patientKey string, side seam.SideReader) ([]seam.SideWrite, []topics.Reason) {
	return d.d.Claim(owner, patientKey, side)
}

// Due says what becomes of a timed side entry that fell due (see Decider.Due).
func (d Domain) Due(table string, value []byte, now time.Time) ([]seam.SideWrite, []seam.Publish) {
	return d.d.Due(table, value, now)
}

// verdict is the decision as the runtime takes it: a rejection carries its
// reasons alone; an accepted record carries the decision as its note, for
// Settle.
func (dec *Decision) verdict() seam.Verdict {
	if len(dec.Reasons) > 0 {
		return seam.Verdict{Reasons: dec.Reasons}
	}
	v := dec.Verdict
	v.Domain = dec
	return v
}
