package normalize

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// OwnerTable is the side table of business ids and the patient each first
// came with. It lives in the partition of the business id, not of the
// patient: the runtime takes an accepted event there (a hop keyed by
// OwnerKey) before it forwards it.
const OwnerTable = "owner"

// OwnerKey is the business id whose patient must not change, namespaced by
// kind so that ids of different kinds never meet: the MO and case id of a
// case, the setId of a document set, the series and number of a
// prescription, the laboratory, referral (order) and sample of a lab
// result. A dispensation has its prescription's: the patient's partition
// holds the state of a prescription the owner check then refused, and a
// dispensation against it must be refused too, not forwarded. Identity
// events and reference feeds have none (empty).
func OwnerKey(ev *source.Event) string {
	switch p := ev.Payload.(type) {
	case *topics.CaseEvent:
		return "case|" + p.MOOID + "|" + source.IDString(p.CaseID)
	case *topics.DocumentEvent:
		return "document|" + source.IDString(p.SetID)
	case *topics.PrescriptionEvent:
		return "prescription|" + source.PrescriptionID(p.Series, p.Number)
	case *topics.DispensationEvent:
		return "prescription|" + source.PrescriptionID(p.PrescriptionSeries, p.PrescriptionNumber)
	case *topics.LabResultEvent:
		return "lab|" + p.LabOID + "|" + source.IDString(p.Referral) + "|" + source.IDString(p.Sample.ID)
	}
	return ""
}

// owner is what OwnerTable keeps of a business id's patient: a hash of
// the patient key, to compare, and the key masked, to name the first
// patient to an operator without personal data in clear. (The changelog's
// dedup keys are hashes of keys that hold the СНИЛС too: this adds no way
// in that they do not already give.)
type owner struct {
	patientHash uint64
	masked      string
}

const ownerVersion = 1

func encodeOwner(o owner) []byte {
	b := make([]byte, 9, 9+len(o.masked))
	b[0] = ownerVersion
	binary.BigEndian.PutUint64(b[1:], o.patientHash)
	return append(b, o.masked...)
}

func decodeOwner(b []byte) (owner, error) {
	if len(b) < 9 || b[0] != ownerVersion {
		return owner{}, fmt.Errorf("owner entry of %d bytes is not of version %d", len(b), ownerVersion)
	}
	return owner{patientHash: binary.BigEndian.Uint64(b[1:9]), masked: string(b[9:])}, nil
}

func patientHash(key string) uint64 {
	h := sha256.Sum256([]byte("owner|" + key))
	return binary.BigEndian.Uint64(h[:8])
}

// Claim decides an accepted event's business id (ownerKey) for a patient,
// in the partition of the business id: the first patient it comes with
// owns it, and the write returned records that; the same patient again
// changes nothing; another patient is a CROSS_PATIENT_DUPLICATE naming
// both patients masked, and the event must not be forwarded. An entry the
// table holds but cannot read is taken over by this patient: the check
// must not stop a partition, and such an entry is not one this code wrote.
func (d *Decider) Claim(ownerKey, patientKey string, side Side) ([]SideWrite, []topics.Reason) {
	claim := owner{patientHash: patientHash(patientKey), masked: ident.MaskPatientKey(patientKey)}
	write := []SideWrite{{Table: OwnerTable, Key: ownerKey, Value: encodeOwner(claim)}}
	b, ok := side.Side(OwnerTable, ownerKey)
	if !ok {
		return write, nil
	}
	held, err := decodeOwner(b)
	if err != nil {
		return write, nil
	}
	if held.patientHash == claim.patientHash {
		return nil, nil
	}
	dec := d.reject(source.Problem{Code: reasons.CrossPatient, Field: "patient",
		Detail: fmt.Sprintf("first sent for patient %s, now for patient %s", held.masked, claim.masked)})
	return nil, dec.Reasons
}
