// Package normalize is the domain's half of the normalize stage: for one
// ingress record it decodes and validates through the source adapters,
// checks the event against the reference data (ФРМР, ФРМО) and what the
// identity bridge knows of the patient, and says where the event goes.
// It knows nothing of Kafka: the runtime in gateway/normalize calls it.
package normalize

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters"
	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/certseen"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/prescription"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// References is the reference data the checks read.
type References interface {
	Employee(snils string) (*topics.Employee, bool)
	Organization(oid string) (*topics.Organization, bool)
	Ready() error
}

// SystemBindings is the feed of information systems: which ce_source may
// send for which organizations. References that implement it have the
// binding check made; while it holds no system the check is off, so that a
// deployment that does not publish the feed works as before.
type SystemBindings interface {
	System(ceSource string) (*topics.InformationSystem, bool)
	// Systems is the number of systems the feed holds.
	Systems() int
}

// Side reads the partition's side tables.
type Side = seam.SideReader

// IdentityTable is the side table of what the identity bridge knows,
// keyed by the patient's СНИЛС.
const IdentityTable = "identity"

// Input is one ingress record (the seam's type).
type Input = seam.Input

// Decision is what becomes of the record: the verdict the runtime acts on,
// and what the decider noted for Settle.
type Decision struct {
	seam.Verdict // rejected when Reasons is not empty
	Event        *source.Event

	patient      *topics.Patient           // for Settle's identity check
	needsConsent bool                      // Rules.ConsentRequiredFor names this event
	identity     *topics.IdentityEvent     // for Settle's side-table write
	prescription *topics.PrescriptionEvent // for Settle's prescription state
	dispensation *topics.DispensationEvent
	seen         []certseen.Seen // the certificates of a checked document's signatures
}

// SideWrite is a write to a side table (the seam's type); Timed ones fall
// due at Due (zero: no more), and the stage then asks Due what becomes of them.
type SideWrite = seam.SideWrite

// Publish is a record the domain asks the stage to write (the seam's type):
// a topic of the catalog, a key, a value and headers (ce_id and extension
// headers; the stage adds the CloudEvents ones).
type Publish = seam.Publish

// Decider makes decisions.
type Decider struct {
	sources map[string]source.Adapter
	refs    References
	catalog *reasons.Catalog
	docs    Documents
	rules   Rules
}

// Rules are the decider's configurable checks, each off when empty: what
// the registries require of some events only, and which events, is each
// deployment's to say.
type Rules struct {
	// ConsentRequiredFor names the events forwarded only when a consent
	// covering the federal registries is on record (CONSENT_MISSING
	// otherwise): event kinds (case, document, prescription, lab_result,
	// dispensation) or one kind of document, document:<СЭМД kind code>.
	ConsentRequiredFor []string
	// ConsentScope is the consent_scope of the consent events that cover
	// the federal registries: only a grant or revocation of it counts.
	// Empty, every scope counts, as before scopes were told apart.
	ConsentScope string
	// SNILSRequiredFor lists the СЭМД kind codes whose documents must name
	// the patient's СНИЛС (NO_SNILS at ingest, not days later from РЭМД).
	SNILSRequiredFor []string
}

// WithRules returns d with the configurable checks set.
func (d *Decider) WithRules(r Rules) *Decider {
	d.rules = r
	return d
}

// consentRequired reports whether the rules ask consent of an event of
// this kind (and, for a document, of this СЭМД kind).
func (r Rules) consentRequired(kind, docKind string) bool {
	for _, k := range r.ConsentRequiredFor {
		if k == kind || (docKind != "" && k == kind+":"+docKind) {
			return true
		}
	}
	return false
}

// NewDecider returns a decider over the source adapters and reference data.
func NewDecider(opts source.Options, refs References) *Decider {
	return &Decider{sources: adapters.Sources(opts), refs: refs, catalog: reasons.Default()}
}

// DocumentFetcher fetches a document's file by the reference the event
// gives (file.ref) and checks it against the declared size and SHA-256;
// gateway/docfetch is the one the gateway runs. An error with a
// FetchFailure() seam.FetchFailure method says what failed (fetchReason
// names it); any other error is DOCUMENT_FETCH_FAILED.
type DocumentFetcher interface {
	Fetch(ctx context.Context, ref string, size int64, sha256Hex string) ([]byte, error)
}

// Documents is what the decider needs to check documents themselves, not
// only what their events say about them.
type Documents struct {
	// Checker checks the CDA against the request and each signature over
	// it: its digest, certificate, chain to the trust roots and holder.
	// Without one the decider checks only the event (the file's inline
	// digest, the declared certificates), as before documents travelled
	// with their events.
	Checker *cda.Checker
	// Fetcher fetches a file given by reference; without one such an
	// event is DOCUMENT_FETCH_FAILED when there is a Checker.
	Fetcher DocumentFetcher
	// Timeout bounds fetching and checking one document;
	// DefaultDocumentTimeout when zero.
	Timeout time.Duration
	// Store, when set, makes the record that stores each checked document
	// the decider accepts, with its file (fetched, for one by reference).
	Store DocumentStore
}

// DocumentStore makes the record that keeps an accepted document's file
// and signatures for РЭМД's getDocumentFile (gateway/docstore's Record):
// the stage writes it in the transaction of the document's outbound
// record, so a document is stored exactly when its registration is sent.
// Topic is a catalog name, as in every Publish.
type DocumentStore interface {
	StoreRecord(ev *topics.DocumentEvent, file []byte, now time.Time) (Publish, error)
}

// DefaultDocumentTimeout bounds fetching and checking one document when
// Documents sets no timeout.
const DefaultDocumentTimeout = 30 * time.Second

// WithDocuments makes the decider check documents' files and signatures.
// Call it before the decider is used.
func (d *Decider) WithDocuments(docs Documents) *Decider {
	if docs.Timeout <= 0 {
		docs.Timeout = DefaultDocumentTimeout
	}
	d.docs = docs
	return d
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
	// A lab result goes to ИЭМК only: РЭМД registers signed СЭМД, and a
	// lab result event carries no signed lab protocol (the lab publishes
	// that as a document event of kind 186; issue 32 builds the rest).
	source.KindLabResult:    {topics.Outbound(topics.RegistryIEMK)},
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
	var storeFile []byte // a checked document's file, for the document store
	switch p := ev.Payload.(type) {
	case *topics.CaseEvent:
		at := parseTime(string(p.OpenedAt))
		d.checkOrg(c, "mo_oid", p.MOOID, at)
		d.checkBinding(c, "mo_oid", p.MOOID, meta.Source, now)
		d.checkDoctor(c, "doctor", "doctor.post_code", &p.Doctor, p.MOOID, at, "")
		for i := range p.Visits {
			v := &p.Visits[i]
			f := fmt.Sprintf("visits[%d].doctor", i)
			d.checkDoctor(c, f, f+".post_code", &v.Doctor, p.MOOID, parseTime(string(v.At)), "")
		}
		dec.patient = &p.Patient
	case *topics.DocumentEvent:
		d.checkOrg(c, "mo_oid", p.MOOID, parseTime(string(p.CreatedAt)))
		d.checkBinding(c, "mo_oid", p.MOOID, meta.Source, now)
		if p.Patient.SNILS == "" && slices.Contains(d.rules.SNILSRequiredFor, p.Kind) {
			c.Add(reasons.NoSNILS, "patient.snils", "documents of kind "+p.Kind+" require the patient's СНИЛС (normalize.snils_required_for)")
		}
		var checked []cda.SignerCertificate
		checked, storeFile = d.checkDocument(c, p, now)
		signed := serialsByIndex(checked, len(p.Signers))
		dec.seen = seenCertificates(p, checked, now)
		for i, s := range p.Signers {
			if s.Person != nil {
				f := fmt.Sprintf("signers[%d]", i)
				d.checkDoctor(c, f, f+".person.post_code", s.Person, p.MOOID, parseTime(string(s.SignedAt)), signerSerial(s, signed[i]))
				d.checkSignerName(c, f+".person", s.Person)
			}
		}
		dec.patient = &p.Patient
	case *topics.PrescriptionEvent:
		at := parseTime(string(p.IssuedAt))
		d.checkOrg(c, "mo_oid", p.MOOID, at)
		d.checkBinding(c, "mo_oid", p.MOOID, meta.Source, now)
		d.checkDoctor(c, "doctor", "doctor.post_code", &p.Doctor, p.MOOID, at, "")
		dec.patient = &p.Patient
		dec.prescription = p
	case *topics.LabResultEvent:
		at := parseTime(string(p.CompletedAt))
		d.checkOrg(c, "lab_oid", p.LabOID, at)
		d.checkBinding(c, "lab_oid", p.LabOID, meta.Source, now)
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
	if dec.patient != nil {
		docKind := ""
		if doc, ok := ev.Payload.(*topics.DocumentEvent); ok {
			docKind = doc.Kind
		}
		dec.needsConsent = d.rules.consentRequired(ev.Kind, docKind)
	}
	dec.Event = ev
	dec.Kind, dec.PatientKey, dec.DedupKey, dec.Version = ev.Kind, ev.PatientKey, ev.DedupKey, ev.Version
	dec.Payload = payload
	dec.Fingerprint = binary.BigEndian.Uint64(ev.Fingerprint[:8])
	dec.Routes = routes[ev.Kind]
	if doc, ok := ev.Payload.(*topics.DocumentEvent); ok && storeFile != nil && d.docs.Store != nil {
		pub, err := d.docs.Store.StoreRecord(doc, storeFile, now)
		if err != nil {
			return d.reject(source.Problem{Code: reasons.ForwardUnbuildable, Field: "file", Detail: "the document store's record: " + err.Error()})
		}
		dec.Publish = append(dec.Publish, pub)
	}
	dec.Owner = OwnerKey(ev)
	return dec
}

// Settle finishes a decision with what the partition's side tables say:
// a patient whose consent is revoked, or whose name or birth date differ
// from the confirmed identity, is rejected; an identity event gets the
// side-table write it makes; a prescription or a dispensation moves the
// prescription's state, or is rejected when it may not; an accepted
// document's signing certificates are published for the expiry warnings
// when the partition has not published them lately (adapters/certseen).
// Call it in partition order, and not for duplicates.
func (d *Decider) Settle(dec *Decision, side Side, now time.Time) {
	switch {
	case len(dec.Reasons) > 0:
	case dec.identity != nil:
		old, _ := side.Side(IdentityTable, dec.identity.Patient.SNILS)
		dec.Side = []SideWrite{{Table: IdentityTable, Key: dec.identity.Patient.SNILS, Value: nextIdentity(old, dec.identity, d.rules.ConsentScope)}}
	case dec.patient != nil:
		c := &source.Check{}
		d.checkIdentity(c, side, dec.patient, dec.needsConsent)
		if c.Failed() {
			*dec = d.reject(c.Problems...)
			return
		}
		d.settlePrescription(dec, side, now)
		if len(dec.Reasons) == 0 && len(dec.seen) > 0 {
			writes, pubs := certseen.Publish(dec.seen, side, now)
			dec.Side = append(dec.Side, writes...)
			dec.Publish = append(dec.Publish, pubs...)
		}
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
	return ident.HashUUID(id + "|" + state + "|" + cause)
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

// checkDocument fetches a document's file when it comes by reference,
// has the checker check the file and its signatures, and returns the
// certificates of the signatures that parsed and the file it checked (nil
// when none). The fetched file is not put in the event: the event goes on
// with its reference.
func (d *Decider) checkDocument(c *source.Check, p *topics.DocumentEvent, now time.Time) (signers []cda.SignerCertificate, checked []byte) {
	if d.docs.Checker == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.docs.Timeout)
	defer cancel()
	file := p.File.Data
	if p.File.Ref != "" {
		if d.docs.Fetcher == nil {
			c.Add(reasons.DocumentFetchFailed, "file.ref", "this gateway fetches no documents by reference")
			return nil, nil
		}
		var err error
		if file, err = d.docs.Fetcher.Fetch(ctx, p.File.Ref, p.File.Size, p.File.SHA256); err != nil {
			code := reasons.DocumentFetchFailed
			var failed interface{ FetchFailure() seam.FetchFailure }
			if errors.As(err, &failed) {
				code = fetchReason(failed.FetchFailure())
			}
			// The error names what failed (status, timeout, sizes), never
			// the file's contents: it is safe in the status message.
			c.Add(code, "file.ref", err.Error())
			return nil, nil
		}
	}
	res := d.docs.Checker.Check(ctx, p, file, now)
	if res.Err != nil {
		// The time ran out (the fetch took most of it, say) before every
		// signature was checked: what was found is not the whole verdict,
		// so the document is neither accepted nor refused for good.
		c.Add(reasons.DocumentCheckIncomplete, "file", "the checks did not finish: "+res.Err.Error())
		return nil, nil
	}
	c.Problems = append(c.Problems, res.Problems...)
	return res.Signers, file
}

// serialsByIndex are the serial numbers of the certificates inside the
// signatures, by signer index ("" where a signature did not parse).
func serialsByIndex(signers []cda.SignerCertificate, n int) []string {
	serials := make([]string, n)
	for _, sc := range signers {
		if sc.Index >= 0 && sc.Index < n {
			serials[sc.Index] = sc.Serial
		}
	}
	return serials
}

// seenCertificates are the records of the certificates of a document's
// verified signatures, for the expiry warnings (adapters/certseen); Settle
// publishes those its partition has not published lately.
func seenCertificates(p *topics.DocumentEvent, signers []cda.SignerCertificate, now time.Time) []certseen.Seen {
	var out []certseen.Seen
	for _, sc := range signers {
		if !sc.Verified || sc.Index < 0 || sc.Index >= len(p.Signers) {
			continue
		}
		s, err := certseen.FromSignature(p.MOOID, p.Signers[sc.Index].Role, sc.Certificate, sc.Subject, now)
		if err != nil {
			continue // no certificate: nothing to warn of
		}
		out = append(out, s)
	}
	return out
}

// fetchReason is the catalog reason of a failed fetch.
func fetchReason(f seam.FetchFailure) string {
	switch f {
	case seam.FetchTooLarge:
		return reasons.DocumentTooLarge
	case seam.FetchDigestMismatch:
		return reasons.DocumentDigestMismatch
	}
	return reasons.DocumentFetchFailed
}

// signerSerial is the serial number of the certificate a signer signed
// with, as ФРМР lists it (hex): the one inside the signature when it was
// checked, else the declared one.
func signerSerial(s topics.Signer, inSignature string) string {
	if inSignature != "" {
		return inSignature
	}
	if s.Certificate != nil {
		return s.Certificate.Serial
	}
	return ""
}

// sameSerial compares two hex serial numbers as numbers: ФРМР and MIS
// write them with and without leading zeros, in either case.
func sameSerial(a, b string) bool {
	return strings.EqualFold(strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0"))
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
	return Decision{Verdict: seam.Verdict{Reasons: out}}
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

// checkBinding checks that the sending system (ce_source) may send for the
// organization, as the registries do when the event reaches them (NO_RMIS,
// DISABLED_RMIS, RMIS_REGION_MISMATCH): found at ingest, the fault is the
// integrator's to fix before the clinic's documents pile up unregistered.
// Whether the system is active is judged on the day the event arrives, as
// the registry judges it on the day it is sent. Off while the systems feed
// is empty.
func (d *Decider) checkBinding(c *source.Check, field, moOID, ceSource string, now time.Time) {
	b, ok := d.refs.(SystemBindings)
	if !ok || b.Systems() == 0 {
		return
	}
	sys, ok := b.System(ceSource)
	if !ok {
		c.Add(reasons.SystemNotBound, "ce_source", "no such system in the systems feed ("+topics.InfoSystems+")")
		return
	}
	if !activeOn(sys.ActiveFrom, sys.ActiveUntil, now) {
		c.Add(reasons.SystemDisabled, "ce_source", fmt.Sprintf("the system is active %s…%s", sys.ActiveFrom, orOpen(sys.ActiveUntil)))
		return
	}
	if !slices.Contains(sys.MOOIDs, moOID) {
		c.Add(reasons.SystemNotBound, field, "the system is not bound to this organization in the systems feed")
		return
	}
	if org, ok := d.refs.Organization(moOID); ok && org.RegionCode != "" && org.RegionCode != sys.RegionCode {
		c.Add(reasons.SystemRegionMismatch, field, fmt.Sprintf("the organization is of region %s, the system of region %s", org.RegionCode, sys.RegionCode))
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
			if sameSerial(cert.Serial, certSerial) {
				found = true
				break
			}
		}
		if !found {
			c.Add(reasons.CertNotInFRMR, field+".certificate.serial", "not among the worker's certificates in ФРМР")
		}
	}
}

// checkSignerName compares a signer's name with ФРМР's record for their
// СНИЛС: РЭМД checks the signer's metadata against ФРМР too
// (VALUE_MISMATCH_METADATA_AND_FRMR), and a document signed under another
// name than the worker's is refused there days later. Names compare
// normalized (case, ё, spaces); the patronymic only when both have one,
// as many systems leave it out. A worker ФРМР does not know is
// checkDoctor's to report. The detail names no one.
func (d *Decider) checkSignerName(c *source.Check, field string, who *topics.Person) {
	if who == nil || who.SNILS == "" {
		return
	}
	emp, ok := d.refs.Employee(who.SNILS)
	if !ok {
		return
	}
	same := func(a, b string) bool { return ident.NormalizeName(a) == ident.NormalizeName(b) }
	patronymicDiffers := ident.NormalizeName(who.Patronymic) != "" && ident.NormalizeName(emp.Patronymic) != "" && !same(who.Patronymic, emp.Patronymic)
	if !same(who.FamilyName, emp.FamilyName) || !same(who.GivenName, emp.GivenName) || patronymicDiffers {
		c.Add(reasons.SignerNameMismatch, field, "the signer's name differs from ФРМР's record for this СНИЛС")
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
// whether consent for the federal registries is revoked or granted. The patronymic has its own hash because many
// systems leave it out: it is compared only when both sides have one.
type identity struct {
	known      bool
	revoked    bool
	granted    bool   // a consent is on record (entries written before it was kept say false)
	nameHash   uint64 // family and given names
	patronymic uint64 // 0 when the identity bridge has none
	birthHash  uint32
}

const identityLen = 22

// The flags of an identity entry's byte 1.
const (
	flagRevoked = 1 << 0
	flagGranted = 1 << 1
)

func encodeIdentity(id identity) []byte {
	b := make([]byte, identityLen)
	if id.known {
		b[0] = 1
	}
	// Byte 1 holds flags: entries written when it was only the revoked
	// byte (0 or 1) read the same.
	if id.revoked {
		b[1] |= flagRevoked
	}
	if id.granted {
		b[1] |= flagGranted
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
	return identity{known: b[0] == 1, revoked: b[1]&flagRevoked != 0, granted: b[1]&flagGranted != 0, nameHash: binary.BigEndian.Uint64(b[2:]),
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

// nextIdentity is the identity entry after event e. A consent event counts
// only for scope (the one covering the federal registries), or for any
// scope when scope is empty: a patient who revokes consent to, say, a
// regional research registry keeps the federal exchange.
func nextIdentity(old []byte, e *topics.IdentityEvent, scope string) []byte {
	id, _ := decodeIdentity(old)
	switch e.Action {
	case "identity_confirmed", "identity_updated":
		id.known, id.nameHash, id.patronymic, id.birthHash = true, nameHash(&e.Patient), patronymicHash(&e.Patient), birthHash(&e.Patient)
	case "consent_revoked":
		if scope == "" || e.ConsentScope == scope {
			id.revoked, id.granted = true, false
		}
	case "consent_granted":
		if scope == "" || e.ConsentScope == scope {
			id.revoked, id.granted = false, true
		}
	}
	return encodeIdentity(id)
}

// checkIdentity compares the patient with what the identity bridge
// confirmed, refuses patients who revoked consent and, when the event
// needs it, patients with no consent on record (one without a СНИЛС can
// have none: consent events are keyed by it).
func (d *Decider) checkIdentity(c *source.Check, side Side, p *topics.Patient, needsConsent bool) {
	var id identity
	if p.SNILS != "" {
		if b, ok := side.Side(IdentityTable, p.SNILS); ok {
			id, _ = decodeIdentity(b) // unreadable: as if none
		}
	}
	if needsConsent && !id.granted && !id.revoked {
		c.Add(reasons.ConsentMissing, "patient", "no consent covering the federal registries on record for this patient (normalize.consent_required_for)")
	}
	if id.revoked {
		c.Add(reasons.ConsentRevoked, "patient", "the identity bridge reports revoked consent")
	}
	patronymicDiffers := id.patronymic != 0 && patronymicHash(p) != 0 && id.patronymic != patronymicHash(p)
	if id.known && (id.nameHash != nameHash(p) || id.birthHash != birthHash(p) || patronymicDiffers) {
		c.Add(reasons.IdentityMismatch, "patient", "name or birth date differ from the confirmed identity")
	}
}
