// Package pharmacy adapts what pharmacy chains publish: dispensations
// against prescriptions.
package pharmacy

import (
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// DispenseType is the ce_type of a dispensation.
const DispenseType = "ru.egisz.pharmacy.dispense.v1"

// Dispensations adapts egisz.pharmacy.dispense.v1.
type Dispensations struct {
	opts source.Options
	dec  *source.Decoder[topics.DispensationEvent]
}

// NewDispensations returns the dispensation adapter.
func NewDispensations(opts source.Options) *Dispensations {
	return &Dispensations{opts: opts, dec: source.NewDecoder[topics.DispensationEvent](DispenseType, opts.Limits)}
}

// EventType is the ce_type Dispensations accepts.
func (*Dispensations) EventType() string { return DispenseType }

// Decode validates a dispensation. Its business id is the chain's id of
// the dispensation; the prescription it draws on is checked against the
// prescription's state by the normalize stage.
func (a *Dispensations) Decode(meta source.Meta, value []byte) (*source.Event, *source.Rejection) {
	p, unknown, c, rej := a.dec.Start(meta, value)
	if rej != nil {
		return nil, rej
	}
	c.Quantity("quantity", p.Quantity)
	at := c.DateTime("dispensed_at", &p.DispensedAt)
	c.NotFuture("dispensed_at", at, a.opts.Now())
	if p.PharmacyOID != "" {
		c.DepartmentOID("pharmacy_oid", p.PharmacyOID)
	}
	// A pharmacy has no MIS patient ids: the patient needs СНИЛС or ЕНП.
	key := c.Patient("patient", &p.Patient, "")
	if key == "" && !c.Failed() {
		c.Add(reasons.PatientIDMissing, "patient", "a dispensation needs the patient's snils or enp")
	}
	return source.Finish(c, source.KindDispensation, key, p.PharmacyChain+":"+p.DispensationID, 1, at, p, unknown)
}
