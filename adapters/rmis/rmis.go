// Package rmis adapts what regional and clinic medical information systems
// publish: treatment cases, signed documents (СЭМД) and prescriptions.
package rmis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The ce_type of each RMIS event.
const (
	CaseType         = "ru.egisz.rmis.case.v1"
	DocumentType     = "ru.egisz.rmis.document.v1"
	PrescriptionType = "ru.egisz.rmis.prescription.v1"
)

// NewCases returns the case adapter, which adapts egisz.rmis.case.v1.
func NewCases(opts source.Options) source.Adapter { return source.New(CaseType, opts, checkCase) }

// checkCase validates a treatment case. Its business id is the case id; its
// version orders updates.
func checkCase(p *topics.CaseEvent, c *source.Check, o source.Options) source.Keys {
	c.LocalID("case_id", p.CaseID, ident.LocalCase)
	ownedBy(c, "case_id", p.CaseID, p.MOOID)
	if p.Version < 0 {
		c.Add(reasons.FieldInvalid, "version", "must be 1 or more")
	}
	updated := c.Moment("updated_at", &p.UpdatedAt)
	opened := c.Moment("opened_at", &p.OpenedAt)
	closed := c.Moment("closed_at", &p.ClosedAt)
	c.Order("opened_at", opened, "closed_at", closed)
	if p.Status == "closed" && p.ClosedAt == "" {
		c.Add(reasons.FieldRequired, "closed_at", "required when status is closed")
	}
	c.MOOID("mo_oid", p.MOOID)
	key := c.Patient("patient", &p.Patient, p.MOOID)
	c.Person("doctor", &p.Doctor)
	c.Diagnoses("diagnoses", p.Diagnoses, true)
	for i := range p.Visits {
		v := &p.Visits[i]
		f := fmt.Sprintf("visits[%d]", i)
		at := c.Moment(f+".at", &v.At)
		c.Order("opened_at", opened, f+".at", at)
		c.Order(f+".at", at, "closed_at", closed)
		c.Person(f+".doctor", &v.Doctor)
		c.DepartmentOID(f+".department_oid", v.DepartmentOID)
		c.Diagnoses(f+".diagnoses", v.Diagnoses, false)
	}
	return source.Keys{Kind: source.KindCase, PatientKey: key, BusinessID: source.IDString(p.CaseID), Version: p.Version, Updated: updated}
}

// ownedBy checks that a MIS-local id was minted under the event's MO.
func ownedBy(c *source.Check, field string, id topics.ID, moOID string) {
	if id.Root != "" && moOID != "" && ident.ValidOID(id.Root) && !strings.HasPrefix(id.Root, moOID+".100.") {
		c.Add(reasons.FieldInvalid, field+".root", "the identifier belongs to another organization than mo_oid")
	}
}

// NewDocuments returns the document adapter, which adapts egisz.rmis.document.v1.
func NewDocuments(opts source.Options) source.Adapter {
	return source.New(DocumentType, opts, checkDocument)
}

// associationType is a code of НСИ 1.2.643.5.1.13.13.99.2.122.
var associationType = regexp.MustCompile(`^[0-9]{1,4}$`)

// checkDocument validates a signed СЭМД. Its business id is the setId, stable
// across versions; localUid is the registration's idempotency key.
func checkDocument(p *topics.DocumentEvent, c *source.Check, o source.Options) source.Keys {
	if p.LocalUID != "" && !ident.ValidUUID(p.LocalUID) {
		c.Add(reasons.UUIDFormat, "local_uid", "expected an RFC 4122 UUID (xxxxxxxx-xxxx-Mxxx-Nxxx-xxxxxxxxxxxx)")
	}
	c.LocalID("document_id", p.DocumentID, ident.LocalDocument)
	c.LocalID("set_id", p.SetID, ident.LocalSet)
	if p.DocumentID == p.SetID && p.SetID.Root != "" {
		c.Add(reasons.DocumentIDIsSetID, "document_id", "the document id changes with each version and must differ from set_id")
	}
	ownedBy(c, "set_id", p.SetID, p.MOOID)
	if p.Version < 0 {
		c.Add(reasons.FieldInvalid, "version", "must be 1 or more")
	}
	created := c.Moment("created_at", &p.CreatedAt)
	c.MOOID("mo_oid", p.MOOID)
	c.DepartmentOID("department_oid", p.DepartmentOID)
	if p.CaseID != nil {
		c.LocalID("case_id", *p.CaseID, ident.LocalCase)
	}
	key := c.Patient("patient", &p.Patient, p.MOOID)
	c.Diagnoses("diagnoses", p.Diagnoses, false)
	for i, a := range p.Associations {
		f := fmt.Sprintf("associations[%d]", i)
		if a.EMDRID == "" {
			c.Add(reasons.FieldRequired, f+".emdr_id", "the emdrId of the registered document it links to")
		} else if !ident.ValidOID(a.EMDRID) {
			c.Add(reasons.FieldInvalid, f+".emdr_id", "expected an emdrId: dot-separated numbers")
		}
		if !associationType.MatchString(a.Type) {
			c.Add(reasons.FieldInvalid, f+".type", "expected a code of НСИ 1.2.643.5.1.13.13.99.2.122, 1 to 4 digits")
		}
	}

	authors := 0
	for i := range p.Signers {
		s := &p.Signers[i]
		f := fmt.Sprintf("signers[%d]", i)
		if s.Role == "doctor" {
			authors++
		}
		if s.Role != "organization" && s.Person == nil {
			c.Add(reasons.FieldRequired, f+".person", "required for a personal signature")
		}
		c.Person(f+".person", s.Person)
		signed := c.Moment(f+".signed_at", &s.SignedAt)
		c.Order(f+".signed_at", created, f+".signed_at", signed) // signed after it was created
		if s.Certificate == nil {
			continue // the certificate inside the signature is checked by normalize
		}
		nb := c.DateTime(f+".certificate.not_before", &s.Certificate.NotBefore)
		na := c.DateTime(f+".certificate.not_after", &s.Certificate.NotAfter)
		switch {
		case !nb.IsZero() && !na.IsZero() && !nb.Before(na):
			c.Add(reasons.CertPeriodInvalid, f+".certificate", "not_after is not after not_before")
		case !signed.IsZero() && !nb.IsZero() && !na.IsZero() && (signed.Before(nb) || signed.After(na)):
			c.Add(reasons.SignedOutsideCert, f+".signed_at", "outside the certificate's not_before…not_after")
		}
	}
	if len(p.Signers) > 0 && authors == 0 {
		c.Add(reasons.SignerMissing, "signers", "no signer with role doctor (the author)")
	}
	checkFile(c, &p.File, o.MaxInlineFile)
	return source.Keys{Kind: source.KindDocument, PatientKey: key, BusinessID: source.IDString(p.SetID), Version: p.Version, Updated: created}
}

func checkFile(c *source.Check, f *topics.Attachment, maxInline int) {
	switch {
	case len(f.Data) == 0 && f.Ref == "":
		c.Add(reasons.FileMissing, "file", "neither data nor ref is set")
		return
	case len(f.Data) > 0 && f.Ref != "":
		c.Add(reasons.FieldInvalid, "file", "set data or ref, not both")
		return
	}
	if f.Ref != "" {
		u, err := url.Parse(f.Ref)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			c.Add(reasons.FieldInvalid, "file.ref", "expected the https URL the file can be fetched from")
		}
	}
	if f.SHA256 != "" {
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || f.SHA256 != strings.ToLower(f.SHA256) {
			c.Add(reasons.FieldInvalid, "file.sha256", "expected 64 lower-case hex digits")
			return
		}
	}
	if len(f.Data) == 0 {
		return
	}
	if maxInline > 0 && len(f.Data) > maxInline {
		c.Add(reasons.FileTooLarge, "file.data", fmt.Sprintf("%d bytes inline, the limit is %d", len(f.Data), maxInline))
		return
	}
	sum := sha256.Sum256(f.Data)
	want, _ := hex.DecodeString(f.SHA256)
	if int64(len(f.Data)) != f.Size || (len(want) > 0 && !bytes.Equal(sum[:], want)) {
		c.Add(reasons.FileHashMismatch, "file", "size or sha256 differ from the inline data")
	}
}

// NewPrescriptions returns the prescription adapter, which adapts egisz.rmis.prescription.v1.
func NewPrescriptions(opts source.Options) source.Adapter {
	return source.New(PrescriptionType, opts, checkPrescription)
}

// checkPrescription validates a prescription issued or cancelled. Its business id is
// series/number; a cancellation is version 2 of the prescription.
func checkPrescription(p *topics.PrescriptionEvent, c *source.Check, o source.Options) source.Keys {
	issued := c.Moment("issued_at", &p.IssuedAt)
	until := c.Date("valid_until", &p.ValidUntil)
	if !issued.IsZero() && !until.IsZero() && until.Before(day(issued)) {
		c.Add(reasons.DateOrder, "valid_until", "valid_until is before issued_at")
	}
	c.Quantity("quantity", p.Quantity)
	c.MOOID("mo_oid", p.MOOID)
	if p.RegionCode != "" && !ident.ValidRegionCode(p.RegionCode) {
		c.Add(reasons.FieldInvalid, "region_code", "expected the region's code, 1 to 3 digits")
	}
	key := c.Patient("patient", &p.Patient, p.MOOID)
	c.Person("doctor", &p.Doctor)
	version := int64(1)
	if p.Action == "cancelled" {
		version = 2
		if p.CancelReason == "" {
			c.Add(reasons.FieldRequired, "cancel_reason", "required when action is cancelled")
		}
	}
	return source.Keys{Kind: source.KindPrescription, PatientKey: key, BusinessID: source.PrescriptionID(p.Series, p.Number), Version: version, Updated: issued}
}

// day is the calendar day of t in Moscow, at midnight, as dates are parsed.
func day(t time.Time) time.Time {
	y, m, d := t.In(datetime.Moscow).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, datetime.Moscow)
}
