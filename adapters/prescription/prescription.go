// Package prescription is the life of a prescription as the gateway keeps
// it: issued by an MIS, dispensed in parts or at once by pharmacy chains,
// cancelled, or expired at the end of its last valid day. It decides
// whether a dispensation or a cancellation may happen and what the new
// state is; the normalize stage keeps the state and publishes each change
// to the pharmacy chains.
package prescription

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Table is the side table of the normalize stage's state that holds
// prescriptions, keyed by series/number.
const Table = "rx"

// States of a prescription.
const (
	Issued          = "issued"
	PartlyDispensed = "partly_dispensed"
	Dispensed       = "dispensed"
	Cancelled       = "cancelled"
	Expired         = "expired"
)

// Record is what the state keeps of a prescription. It holds no personal
// data: the patient only as a hash, to catch a dispensation for someone
// else.
type Record struct {
	Series     string  `json:"series"`
	Number     string  `json:"number"`
	Region     string  `json:"region,omitempty"`
	State      string  `json:"state"`
	Unit       string  `json:"unit"`
	Prescribed float64 `json:"prescribed"`
	Remaining  float64 `json:"remaining"`
	ValidUntil string  `json:"valid_until"` // a date, Moscow time
	Patient    uint64  `json:"patient"`     // hash of the patient key
	// Chains lists the chains that dispensed against it, in order.
	Chains  []string  `json:"chains,omitempty"`
	Changed time.Time `json:"changed"`
}

// ID is the prescription's business id, series/number.
func (r *Record) ID() string { return r.Series + "/" + r.Number }

// Open reports whether the prescription may still be dispensed.
func (r *Record) Open() bool { return r.State == Issued || r.State == PartlyDispensed }

// ExpiresAt is the end of the last valid day in Moscow; zero once the
// prescription is closed (dispensed, cancelled, expired) or its date is
// unreadable.
func (r *Record) ExpiresAt() time.Time {
	if !r.Open() {
		return time.Time{}
	}
	d, err := time.ParseInLocation("2006-01-02", r.ValidUntil, datetime.Moscow)
	if err != nil {
		return time.Time{}
	}
	return d.AddDate(0, 0, 1)
}

// PatientHash hashes a patient key for Record.Patient.
func PatientHash(patientKey string) uint64 {
	h := sha256.Sum256([]byte("rx-patient|" + patientKey))
	return binary.BigEndian.Uint64(h[:8])
}

// Encode and Decode are the record's form in the state store.
func (r *Record) Encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

// Decode reads a record written by Encode.
func Decode(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("prescription record: %w", err)
	}
	return &r, nil
}

// Refusal is why a change may not happen: a reason code of the catalog
// and a detail in English without personal data.
type Refusal struct {
	Code, Field, Detail string
}

// Issue is the record of a newly issued prescription.
func Issue(p *topics.PrescriptionEvent, patientKey string, now time.Time) *Record {
	return &Record{
		Series: p.Series, Number: p.Number, Region: p.RegionCode, State: Issued,
		Unit: p.Quantity.Unit, Prescribed: p.Quantity.Value, Remaining: p.Quantity.Value,
		ValidUntil: string(p.ValidUntil), Patient: PatientHash(patientKey), Changed: now,
	}
}

// Cancel returns the record cancelled, or why it cannot be: only an open
// prescription can be; what was dispensed stays dispensed. Whether it has
// expired follows valid_until at now, not whether the expiry timer has run.
func (r *Record) Cancel(now time.Time) (*Record, *Refusal) {
	switch {
	case r.State == Cancelled:
		return nil, &Refusal{Code: reasons.RxCancelled, Field: "action", Detail: "already cancelled"}
	case r.State == Dispensed:
		return nil, &Refusal{Code: reasons.RxAlreadyDispensed, Field: "action", Detail: "dispensed in full; it can no longer be cancelled"}
	case r.State == Expired || r.Expire(now) != nil:
		return nil, &Refusal{Code: reasons.RxExpired, Field: "action", Detail: "expired; it can no longer be cancelled"}
	}
	n := *r
	n.State, n.Changed = Cancelled, now
	return &n, nil
}

// quantum is the smallest quantity told apart: a thousandth of a unit, so
// that 0.1+0.2 of a unit is 0.3.
const quantum = 1e-3

// Dispense returns the record after the dispensation, or why it is refused:
// the prescription is closed, expired (its last valid day is over at now,
// whether or not the expiry timer has marked it yet, or was over on the day
// of the dispensation), for another patient, in another unit, or has less
// left than dispensed. A prescription dispensed in full is refused to every
// chain, whoever dispensed it.
func (r *Record) Dispense(d *topics.DispensationEvent, patientKey string, now time.Time) (*Record, *Refusal) {
	switch {
	case r.State == Cancelled:
		return nil, &Refusal{Code: reasons.RxCancelled, Field: "prescription_number", Detail: "cancelled by the MIS"}
	case r.State == Expired || r.Expire(now) != nil:
		return nil, &Refusal{Code: reasons.RxExpired, Field: "prescription_number", Detail: "valid until " + r.ValidUntil}
	case r.State == Dispensed:
		by := "by this chain"
		if len(r.Chains) > 0 && r.Chains[len(r.Chains)-1] != d.PharmacyChain {
			by = "by another chain"
		}
		return nil, &Refusal{Code: reasons.RxAlreadyDispensed, Field: "prescription_number", Detail: "dispensed in full " + by}
	}
	if r.Patient != PatientHash(patientKey) {
		return nil, &Refusal{Code: reasons.RxPatientMismatch, Field: "patient", Detail: "the prescription is for another patient"}
	}
	if at, err := datetime.ParseDateTime(string(d.DispensedAt)); err == nil && !r.ExpiresAt().IsZero() && !at.Before(r.ExpiresAt()) {
		return nil, &Refusal{Code: reasons.RxExpired, Field: "dispensed_at", Detail: "valid until " + r.ValidUntil}
	}
	if d.Quantity.Unit != r.Unit {
		return nil, &Refusal{Code: reasons.RxUnitMismatch, Field: "quantity.unit", Detail: "prescribed in another unit"}
	}
	left := r.Remaining - d.Quantity.Value
	if left < -quantum/2 {
		return nil, &Refusal{Code: reasons.RxQuantityExceeded, Field: "quantity.value",
			Detail: fmt.Sprintf("%s left of %s, %s dispensed", qty(r.Remaining), qty(r.Prescribed), qty(d.Quantity.Value))}
	}
	n := *r
	n.Chains = append(append([]string(nil), r.Chains...), d.PharmacyChain)
	n.Remaining, n.Changed = math.Round(max(left, 0)/quantum)*quantum, now
	n.State = PartlyDispensed
	if n.Remaining < quantum/2 {
		n.Remaining, n.State = 0, Dispensed
	}
	return &n, nil
}

func qty(v float64) string { return fmt.Sprintf("%g", math.Round(v/quantum)*quantum) }

// Expire returns the record expired when its last valid day is over at
// now, or nil.
func (r *Record) Expire(now time.Time) *Record {
	at := r.ExpiresAt()
	if at.IsZero() || now.Before(at) {
		return nil
	}
	n := *r
	n.State, n.Changed = Expired, now
	return &n
}

// Change is a prescription's new state as the pharmacy chains read it.
func (r *Record) Change(prescribed *topics.PrescriptionEvent, d *topics.DispensationEvent) topics.PharmacyPrescription {
	out := topics.PharmacyPrescription{
		Series: r.Series, Number: r.Number, RegionCode: r.Region, State: r.State,
		Remaining:  topics.Quantity{Value: r.Remaining, Unit: r.Unit},
		Changed:    topics.DateTime(r.Changed.In(datetime.Moscow).Format(time.RFC3339)),
		Prescribed: prescribed,
	}
	if d != nil {
		out.Dispensation = &topics.DispensationRef{
			DispensationID: d.DispensationID, PharmacyChain: d.PharmacyChain, PharmacyID: d.PharmacyID,
			Quantity: d.Quantity, DispensedAt: d.DispensedAt,
		}
	}
	return out
}
