// Package normalize is the domain's half of the normalize stage: for one
// ingress record it decodes and validates through the source adapters,
// checks the event against the reference data (ФРМР, ФРМО) and what the
// identity bridge knows of the patient, and says where the event goes.
// It knows nothing of Kafka: the runtime in gateway/normalize calls it.
package normalize

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/prescription"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// References is the reference data the checks read.
type References interface {
	Employee(snils string) (*topics.Employee, bool)
	Organization(oid string) (*topics.Organization, bool)
	Ready() error
}

// Side reads the partition's side tables.
type Side interface {
	Side(table, key string) ([]byte, bool)
}

// IdentityTable is the side table of what the identity bridge knows,
// keyed by the patient's СНИЛС.
const IdentityTable = "identity"

// Input is one ingress record.
type Input struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// Decision is what becomes of the record.
type Decision struct {
	Reasons     []topics.Reason // rejected when not empty
	Event       *source.Event
	Fingerprint uint64
	Payload     []byte
	Routes      []string
	// Owner is the business id whose patient must not change (OwnerKey);
	// the runtime asks Claim about it in the business id's partition
	// before it forwards the event. Empty: the event has none.
	Owner   string
	Side    []SideWrite // side-table writes, made when the event is new or an update
	Publish []Publish   // records to write besides the routes (a prescription's new state)

	patient      *topics.Patient           // for Settle's identity check
	identity     *topics.IdentityEvent     // for Settle's side-table write
	prescription *topics.PrescriptionEvent // for Settle's prescription state
	dispensation *topics.DispensationEvent
}

// SideWrite is a write to a side table; Timed ones fall due at Due (zero:
// no more), and the stage then asks Due what becomes of them.
type SideWrite struct {
	Table, Key string
	Value      []byte
	Timed      bool
	Due        time.Time
}

// Publish is a record the domain asks the stage to write: a topic of the
// catalog, a key, a value and headers (ce_id and extension headers; the
// stage adds the CloudEvents ones).
type Publish struct {
	Topic   string
	Key     string
	Value   []byte
	Headers map[string]string
}

// Decider makes decisions.
type Decider struct {
	sources map[string]source.Adapter
	refs    References
	catalog *reasons.Catalog
}

// NewDecider returns a decider over the source adapters and reference data.
func NewDecider(opts source.Options, refs References) *Decider {
	return &Decider{sources: adapters.Sources(opts), refs: refs, catalog: reasons.Default()}
}

// Ready is nil once the reference data is loaded.
func (d *Decider) Ready() error { return d.refs.Ready() }

// Reason returns a catalog reason in the contract's form.
func (d *Decider) Reason(code string) topics.Reason {
	return toTopic(d.catalog.Resolve(code), "")
}

func toTopic(r reasons.Reason, field string) topics.Reason {
	return topics.Reason{Code: r.Code, Owner: string(r.Owner), Retryable: r.Retryable(), Field: field, MessageRU: r.RU, MessageEN: r.EN}
}

// Routes are the topics each kind of event goes to: cases to ИЭМК,
// documents to РЭМД, prescriptions to the prescription registry and the
// pharmacy chains (as a state change, see Settle), lab results to ИЭМК and to РЭМД as a lab protocol,
// dispensations to the prescription registry. Identity events stay here.
var routes = map[string][]string{
	source.KindCase:         {topics.Outbound(topics.RegistryIEMK)},
	source.KindDocument:     {topics.Outbound(topics.RegistryREMD)},
	source.KindPrescription: {topics.Outbound(topics.RegistryERX)}, // and its state to the chains: Settle
	source.KindLabResult:    {topics.Outbound(topics.RegistryIEMK), topics.Outbound(topics.RegistryREMD)},
	source.KindDispensation: {topics.Outbound(topics.RegistryERX)},
}

// Decide decides one record as far as the record itself and the reference
// data allow. It reads no partition state, so the records of a batch can
// be decided concurrently; Settle then finishes each in order.
func (d *Decider) Decide(in Input, now time.Time) Decision {
	a, ok := d.sources[in.Topic]
	if !ok {
		return d.reject(source.Problem{Code: reasons.UnknownTopic, Detail: in.Topic})
	}
	meta := source.Meta{SpecVersion: in.Headers["ce_specversion"], ID: in.Headers["ce_id"], Source: in.Headers["ce_source"], Type: in.Headers["ce_type"], Time: in.Headers["ce_time"]}
	ev, rej := a.Decode(meta, in.Value)
	if rej != nil {
		return d.reject(rej.Problems...)
	}
	c := &source.Check{}
	if string(in.Key) != ev.PatientKey {
		c.Add(reasons.KeyMismatch, "", "key the record by the normalized patient key so a patient's events share a partition")
	}
	var dec Decision
	switch p := ev.Payload.(type) {
	case *topics.CaseEvent:
		at := parseTime(string(p.OpenedAt))
		d.checkOrg(c, "mo_oid", p.MOOID, at)
		d.checkDoctor(c, "doctor", "doctor.post_code", &p.Doctor, p.MOOID, at, "")
		for i := range p.Visits {
			v := &p.Visits[i]
			f := fmt.Sprintf("visits[%d].doctor", i)
			d.checkDoctor(c, f, f+".post_code", &v.Doctor, p.MOOID, parseTime(string(v.At)), "")
		}
		dec.patient = &p.Patient
	case *topics.DocumentEvent:
		d.checkOrg(c, "mo_oid", p.MOOID, parseTime(string(p.CreatedAt)))
		for i, s := range p.Signers {
			if s.Person != nil {
				f := fmt.Sprintf("signers[%d]", i)
				d.checkDoctor(c, f, f+".person.post_code", s.Person, p.MOOID, parseTime(string(s.SignedAt)), s.Certificate.Serial)
			}
		}
		dec.patient = &p.Patient
	case *topics.PrescriptionEvent:
		at := parseTime(string(p.IssuedAt))
		d.checkOrg(c, "mo_oid", p.MOOID, at)
		d.checkDoctor(c, "doctor", "doctor.post_code", &p.Doctor, p.MOOID, at, "")
		dec.patient = &p.Patient
		dec.prescription = p
	case *topics.LabResultEvent:
		at := parseTime(string(p.CompletedAt))
		d.checkOrg(c, "lab_oid", p.LabOID, at)
		d.checkDoctor(c, "validator", "validator.post_code", &p.Validator, p.LabOID, at, "")
		dec.patient = &p.Patient
	case *topics.DispensationEvent:
		dec.patient = &p.Patient
		dec.dispensation = p
	case *topics.IdentityEvent:
		dec.identity = p
	}
	if c.Failed() {
		return d.reject(c.Problems...)
	}
	payload, err := ev.MarshalPayload()
	if err != nil {
		return d.reject(source.Problem{Code: reasons.DecodeNotJSON, Detail: err.Error()})
	}
	dec.Event = ev
	dec.Payload = payload
	dec.Fingerprint = binary.BigEndian.Uint64(ev.Fingerprint[:8])
	dec.Routes = routes[ev.Kind]
	dec.Owner = OwnerKey(ev)
	return dec
}

// Settle finishes a decision with what the partition's side tables say:
// a patient whose consent is revoked, or whose name or birth date differ
// from the confirmed identity, is rejected; an identity event gets the
// side-table write it makes; a prescription or a dispensation moves the
// prescription's state, or is rejected when it may not. Call it in
// partition order, and not for duplicates.
func (d *Decider) Settle(dec *Decision, side Side, now time.Time) {
	switch {
	case len(dec.Reasons) > 0:
	case dec.identity != nil:
		old, _ := side.Side(IdentityTable, dec.identity.Patient.SNILS)
		dec.Side = []SideWrite{{Table: IdentityTable, Key: dec.identity.Patient.SNILS, Value: nextIdentity(old, dec.identity)}}
	case dec.patient != nil:
		c := &source.Check{}
		d.checkIdentity(c, side, dec.patient)
		if c.Failed() {
			*dec = d.reject(c.Problems...)
			return
		}
		d.settlePrescription(dec, side, now)
	}
}

// settlePrescription applies a prescription or a dispensation to the
// prescription's state.
func (d *Decider) settlePrescription(dec *Decision, side Side, now time.Time) {
	var (
		rec     *prescription.Record
		refusal *prescription.Refusal
		cause   = fmt.Sprintf("%s|%016x", dec.Event.DedupKey, dec.Fingerprint)
	)
	switch {
	case dec.prescription != nil:
		p := dec.prescription
		id := source.PrescriptionID(p.Series, p.Number)
		old, known := side.Side(prescription.Table, id)
		switch {
		case p.Action != "cancelled" && known:
			return // issued again: the dedup rule calls it a duplicate or a conflict
		case p.Action != "cancelled":
			rec = prescription.Issue(p, dec.Event.PatientKey, now)
		case !known:
			refusal = &prescription.Refusal{Code: reasons.RxUnknown, Field: "number", Detail: "cancelled before it was issued"}
		default:
			held, err := prescription.Decode(old)
			if err != nil {
				refusal = &prescription.Refusal{Code: reasons.RxUnknown, Field: "number", Detail: err.Error()}
				break
			}
			rec, refusal = held.Cancel(now)
		}
	case dec.dispensation != nil:
		p := dec.dispensation
		old, known := side.Side(prescription.Table, source.PrescriptionID(p.PrescriptionSeries, p.PrescriptionNumber))
		if !known {
			refusal = &prescription.Refusal{Code: reasons.RxUnknown, Field: "prescription_number", Detail: "no such prescription for this patient key"}
			break
		}
		held, err := prescription.Decode(old)
		if err != nil {
			refusal = &prescription.Refusal{Code: reasons.RxUnknown, Field: "prescription_number", Detail: err.Error()}
			break
		}
		rec, refusal = held.Dispense(p, dec.Event.PatientKey, now)
	default:
		return
	}
	if refusal != nil {
		*dec = d.reject(source.Problem{Code: refusal.Code, Field: refusal.Field, Detail: refusal.Detail})
		return
	}
	var prescribed *topics.PrescriptionEvent
	if dec.prescription != nil {
		prescribed = dec.prescription
	}
	dec.Side = append(dec.Side, rxWrite(rec))
	dec.Publish = append(dec.Publish, rxChange(rec, prescribed, dec.dispensation, cause))
}

func rxWrite(rec *prescription.Record) SideWrite {
	return SideWrite{Table: prescription.Table, Key: rec.ID(), Value: rec.Encode(), Timed: true, Due: rec.ExpiresAt()}
}

// rxChange is the record that tells the chains of a prescription's new
// state. Its ce_id derives from the prescription, the state and the event
// that caused it, so a change written twice has one id.
func rxChange(rec *prescription.Record, prescribed *topics.PrescriptionEvent, disp *topics.DispensationEvent, cause string) Publish {
	body, _ := json.Marshal(rec.Change(prescribed, disp))
	h := map[string]string{
		"ce_id":              changeID(rec.ID(), rec.State, cause),
		topics.HeaderRegion:  rec.Region,
		topics.HeaderRxState: rec.State,
	}
	if disp != nil {
		h[topics.HeaderPharmacyChain], h[topics.HeaderPharmacyID] = disp.PharmacyChain, disp.PharmacyID
	}
	return Publish{Topic: topics.PharmacyRx, Key: rec.ID(), Value: body, Headers: h}
}

func changeID(id, state, cause string) string {
	h := fmt.Sprintf("%x", sha256.Sum256([]byte(id+"|"+state+"|"+cause)))
	return h[0:8] + "-" + h[8:12] + "-5" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// Due says what becomes of a timed side entry that fell due: a
// prescription whose last valid day is over expires, and the chains are
// told. The write it returns replaces the entry (with its next due time,
// if any).
func (d *Decider) Due(table string, value []byte, now time.Time) ([]SideWrite, []Publish) {
	if table != prescription.Table {
		return nil, nil
	}
	rec, err := prescription.Decode(value)
	if err != nil {
		return nil, nil
	}
	expired := rec.Expire(now)
	if expired == nil {
		return []SideWrite{rxWrite(rec)}, nil // not yet (a clock set back): keep its time
	}
	return []SideWrite{rxWrite(expired)}, []Publish{rxChange(expired, nil, nil, "expiry")}
}

func (d *Decider) reject(ps ...source.Problem) Decision {
	out := make([]topics.Reason, 0, len(ps))
	for _, p := range ps {
		r := toTopic(d.catalog.Resolve(p.Code), p.Field)
		if p.Detail != "" {
			r.MessageEN += ": " + p.Detail
		}
		out = append(out, r)
	}
	return Decision{Reasons: out}
}

func parseTime(s string) time.Time {
	t, _ := datetime.ParseDateTime(s)
	return t
}

// activeOn reports whether a date falls within [from, until]; an empty
// until is open-ended.
func activeOn(from, until topics.Date, at time.Time) bool {
	day := at.In(datetime.Moscow).Format("2006-01-02")
	return (from == "" || string(from) <= day) && (until == "" || day <= string(until))
}

func (d *Decider) checkOrg(c *source.Check, field, oid string, at time.Time) {
	org, ok := d.refs.Organization(oid)
	switch {
	case !ok:
		c.Add(reasons.MONotInFRMO, field, "no such organization in the ФРМО feed")
	case !at.IsZero() && !activeOn(org.ActiveFrom, org.ActiveUntil, at):
		c.Add(reasons.MOInactive, field, fmt.Sprintf("active %s…%s", org.ActiveFrom, orOpen(org.ActiveUntil)))
	}
}

// checkDoctor checks that a worker is in ФРМР, holds the post the event
// names (post_code, at postField) at the MO on that date and, when ФРМР lists
// certificates for them, that the signing certificate is one of them.
func (d *Decider) checkDoctor(c *source.Check, field, postField string, who *topics.Person, moOID string, at time.Time, certSerial string) {
	if who == nil || who.SNILS == "" {
		return
	}
	emp, ok := d.refs.Employee(who.SNILS)
	if !ok {
		c.Add(reasons.DoctorNotInFRMR, field, "no such worker in the ФРМР feed")
		return
	}
	atMO, holds := false, false
	for _, p := range emp.Posts {
		if p.MOOID == moOID && (at.IsZero() || activeOn(p.From, p.Until, at)) {
			atMO = true
			if who.PostCode == "" || strings.TrimSpace(p.PostCode) == strings.TrimSpace(who.PostCode) {
				holds = true
				break
			}
		}
	}
	switch {
	case !atMO:
		c.Add(reasons.DoctorPostMismatch, field, "no post at "+moOID+" on that date")
	case !holds:
		// The worker is at the MO, but ФРМР lists another post for them:
		// РЭМД checks the author's post against ФРМР too.
		c.Add(reasons.DoctorPostMismatch, postField, "ФРМР lists another post for this worker at "+moOID+" on that date")
	}
	if certSerial != "" && len(emp.Certificates) > 0 {
		found := false
		for _, cert := range emp.Certificates {
			if strings.EqualFold(cert.Serial, certSerial) {
				found = true
				break
			}
		}
		if !found {
			c.Add(reasons.CertNotInFRMR, field+".certificate.serial", "not among the worker's certificates in ФРМР")
		}
	}
}

func orOpen(d topics.Date) string {
	if d == "" {
		return "open"
	}
	return string(d)
}

// identity is what the side table keeps of a patient: hashes of the
// normalized names and birth date (no personal data in the changelog) and
// whether consent is revoked. The patronymic has its own hash because many
// systems leave it out: it is compared only when both sides have one.
type identity struct {
	known      bool
	revoked    bool
	nameHash   uint64 // family and given names
	patronymic uint64 // 0 when the identity bridge has none
	birthHash  uint32
}

const identityLen = 22

func encodeIdentity(id identity) []byte {
	b := make([]byte, identityLen)
	if id.known {
		b[0] = 1
	}
	if id.revoked {
		b[1] = 1
	}
	binary.BigEndian.PutUint64(b[2:], id.nameHash)
	binary.BigEndian.PutUint64(b[10:], id.patronymic)
	binary.BigEndian.PutUint32(b[18:], id.birthHash)
	return b
}

func decodeIdentity(b []byte) (identity, error) {
	if len(b) != identityLen {
		return identity{}, fmt.Errorf("identity entry is %d bytes, not %d", len(b), identityLen)
	}
	return identity{known: b[0] == 1, revoked: b[1] == 1, nameHash: binary.BigEndian.Uint64(b[2:]),
		patronymic: binary.BigEndian.Uint64(b[10:]), birthHash: binary.BigEndian.Uint32(b[18:])}, nil
}

func hash64(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(h[:8])
}

func nameHash(p *topics.Patient) uint64 {
	return hash64(ident.NormalizeName(p.FamilyName) + "|" + ident.NormalizeName(p.GivenName))
}

// patronymicHash is 0 for a patient without a patronymic.
func patronymicHash(p *topics.Patient) uint64 {
	if ident.NormalizeName(p.Patronymic) == "" {
		return 0
	}
	return hash64(ident.NormalizeName(p.Patronymic)) | 1 // never 0
}

func birthHash(p *topics.Patient) uint32 {
	return uint32(hash64(string(p.BirthDate)) >> 32)
}

func nextIdentity(old []byte, e *topics.IdentityEvent) []byte {
	id, _ := decodeIdentity(old)
	switch e.Action {
	case "identity_confirmed", "identity_updated":
		id.known, id.nameHash, id.patronymic, id.birthHash = true, nameHash(&e.Patient), patronymicHash(&e.Patient), birthHash(&e.Patient)
	case "consent_revoked":
		id.revoked = true
	case "consent_granted":
		id.revoked = false
	}
	return encodeIdentity(id)
}

// checkIdentity compares the patient with what the identity bridge
// confirmed, and refuses patients who revoked consent.
func (d *Decider) checkIdentity(c *source.Check, side Side, p *topics.Patient) {
	if p.SNILS == "" {
		return
	}
	b, ok := side.Side(IdentityTable, p.SNILS)
	if !ok {
		return
	}
	id, err := decodeIdentity(b)
	if err != nil {
		return
	}
	if id.revoked {
		c.Add(reasons.ConsentRevoked, "patient", "the identity bridge reports revoked consent")
	}
	patronymicDiffers := id.patronymic != 0 && patronymicHash(p) != 0 && id.patronymic != patronymicHash(p)
	if id.known && (id.nameHash != nameHash(p) || id.birthHash != birthHash(p) || patronymicDiffers) {
		c.Add(reasons.IdentityMismatch, "patient", "name or birth date differ from the confirmed identity")
	}
}
