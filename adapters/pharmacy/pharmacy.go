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

// NewDispensations returns the dispensation adapter, which adapts egisz.pharmacy.dispense.v1.
func NewDispensations(opts source.Options) source.Adapter {
	return source.New(DispenseType, opts, checkDispensation)
}

// checkDispensation validates a dispensation. Its business id is the chain's id of
// the dispensation; the prescription it draws on is checked against the
// prescription's state by the normalize stage.
func checkDispensation(p *topics.DispensationEvent, c *source.Check, o source.Options) source.Keys {
	c.Quantity("quantity", p.Quantity)
	at := c.Moment("dispensed_at", &p.DispensedAt)
	if p.PharmacyOID != "" {
		c.DepartmentOID("pharmacy_oid", p.PharmacyOID)
	}
	// A pharmacy has no MIS patient ids: the patient needs СНИЛС or ЕНП.
	key := c.Patient("patient", &p.Patient, "")
	if key == "" && !c.Failed() {
		c.Add(reasons.PatientIDMissing, "patient", "a dispensation needs the patient's snils or enp")
	}
	return source.Keys{Kind: source.KindDispensation, PatientKey: key, BusinessID: p.PharmacyChain + ":" + p.DispensationID, Version: 1, Updated: at}
}
