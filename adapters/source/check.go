package source

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Check collects the problems of one record while normalizing its fields
// in place. Its methods take the field's JSON path for the problem texts.
type Check struct {
	Problems []Problem
	// Now is the moment the record is checked at, and ClockSkew how far
	// ahead of it a publisher's clock may run: a moment of the event later
	// than Now+ClockSkew is DATE_IN_FUTURE. A zero Now is time.Now().
	Now       time.Time
	ClockSkew time.Duration
}

// Add records a problem.
func (c *Check) Add(code, field, detail string) {
	c.Problems = append(c.Problems, Problem{code, field, detail})
}

// Failed reports whether any problem was found.
func (c *Check) Failed() bool { return len(c.Problems) > 0 }

// SNILS normalizes a СНИЛС in place; empty stays empty (callers decide
// whether it is required).
func (c *Check) SNILS(field string, v *string) {
	if *v == "" {
		return
	}
	d, err := ident.NormalizeSNILS(*v)
	switch {
	case errors.Is(err, ident.ErrChecksum):
		c.Add(reasons.SNILSChecksum, field, "the check number does not match the first nine digits")
	case err != nil:
		c.Add(reasons.SNILSFormat, field, "expected 11 digits, optionally written NNN-NNN-NNN CC")
	default:
		*v = d
	}
}

// ENP checks a ЕНП; empty stays empty.
func (c *Check) ENP(field, v string) {
	if v == "" {
		return
	}
	switch err := ident.ValidENP(v); {
	case errors.Is(err, ident.ErrChecksum):
		c.Add(reasons.ENPChecksum, field, "the 16th digit is not the check digit of the first 15")
	case err != nil:
		c.Add(reasons.ENPFormat, field, "expected 16 digits")
	}
}

// DateTime normalizes a moment in place and returns it (zero when empty or wrong).
func (c *Check) DateTime(field string, v *topics.DateTime) time.Time {
	if *v == "" {
		return time.Time{}
	}
	s, t, err := datetime.NormalizeDateTime(string(*v))
	if err != nil {
		c.Add(reasons.DateTimeFormat, field, datetime.Describe(err, "RFC 3339 with an offset (2026-03-20T14:30:00+03:00) or yyyyMMddHHmm+ZZ00"))
		return time.Time{}
	}
	*v = topics.DateTime(s)
	return t
}

// Date normalizes a calendar date in place and returns it.
func (c *Check) Date(field string, v *topics.Date) time.Time {
	if *v == "" {
		return time.Time{}
	}
	s, t, err := datetime.NormalizeDate(string(*v))
	if err != nil {
		c.Add(reasons.DateFormat, field, "expected YYYY-MM-DD or yyyyMMdd, a real calendar date")
		return time.Time{}
	}
	*v = topics.Date(s)
	return t
}

// Order checks that the earlier moment is not after the later one. Zero
// times (absent or already reported) are skipped.
func (c *Check) Order(earlierField string, earlier time.Time, laterField string, later time.Time) {
	if earlier.IsZero() || later.IsZero() {
		return
	}
	if earlier.After(later) {
		c.Add(reasons.DateOrder, laterField, fmt.Sprintf("%s is before %s", laterField, earlierField))
	}
}

// NotFuture checks that a moment is not later than the check's Now plus
// its ClockSkew (the one tolerance for publishers' clocks). A zero t
// (absent or already reported) is skipped.
func (c *Check) NotFuture(field string, t time.Time) {
	if t.IsZero() {
		return
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	if t.After(now.Add(c.ClockSkew)) {
		c.Add(reasons.DateInFuture, field, fmt.Sprintf("later than the gateway's clock by more than the %s allowed for clock skew", c.ClockSkew))
	}
}

// Moment normalizes a moment of the event itself (when something happened:
// a visit, a signature, a sample taken) in place, checks it is not in the
// future, and returns it. Every such field goes through here; DateTime
// alone is for moments that may lie ahead (a certificate's not_after).
func (c *Check) Moment(field string, v *topics.DateTime) time.Time {
	t := c.DateTime(field, v)
	c.NotFuture(field, t)
	return t
}

// Token checks a value that must be usable as a ce_source or ce_id header
// (the systems feed names systems by their ce_source): set, and at most
// MaxHeaderToken characters of printable ASCII without spaces.
func (c *Check) Token(field, v string) {
	if v == "" {
		c.Add(reasons.FieldRequired, field, "")
		return
	}
	if detail := headerToken(v); detail != "" {
		c.Add(reasons.FieldInvalid, field, detail)
	}
}

// MOOID checks an organization's ФРМО OID.
func (c *Check) MOOID(field, v string) {
	if v != "" && !ident.ValidMOOID(v) {
		c.Add(reasons.MOOIDFormat, field, "expected 1.2.643.5.1.13.13.12.<1-4>.<region>.<number>")
	}
}

// DepartmentOID checks a department's ФРМО OID.
func (c *Check) DepartmentOID(field, v string) {
	if v != "" && !ident.ValidDepartmentOID(v) {
		c.Add(reasons.OIDFormat, field, "expected an ФРМО department OID below 1.2.643.5.1.13.13.12")
	}
}

// LocalID checks a MIS-local identifier: its root must end in the kind's
// suffix (…100.<mis>.<inst>.<kind>); one of kinds must match.
func (c *Check) LocalID(field string, id topics.ID, kinds ...string) {
	if id.Root == "" {
		return
	}
	if !ident.ValidOID(id.Root) {
		c.Add(reasons.OIDFormat, field+".root", "not an OID")
		return
	}
	got := ident.LocalIDKind(id.Root)
	for _, k := range kinds {
		if got == k {
			return
		}
	}
	c.Add(reasons.LocalIDKind, field+".root", fmt.Sprintf("expected <MO OID>.100.<mis>.<inst>.%s", strings.Join(kinds, " or .")))
}

// ICD10 checks diagnoses; with requireMain exactly one must be main.
func (c *Check) Diagnoses(field string, ds []topics.Diagnosis, requireMain bool) {
	mains := 0
	for i, d := range ds {
		if d.Code != "" && !ident.ValidICD10(d.Code) {
			c.Add(reasons.ICD10Format, fmt.Sprintf("%s[%d].code", field, i), "expected a letter, two digits and an optional .d or .dd (J06.9)")
		}
		if d.Role == "main" {
			mains++
		}
	}
	if requireMain && len(ds) > 0 && mains != 1 {
		c.Add(reasons.MainDiagnosis, field, fmt.Sprintf("%d main diagnoses", mains))
	}
}

// Person checks a medical worker and normalizes their СНИЛС.
func (c *Check) Person(field string, p *topics.Person) {
	if p == nil {
		return
	}
	c.SNILS(field+".snils", &p.SNILS)
	c.Names(field, p.FamilyName, p.GivenName, p.Patronymic)
}

// Names checks a person's family name, given name and patronymic hold no
// character that cannot be represented: a control character, U+FFFD
// (a character the sender's encoding already lost), or a noncharacter.
// A name so spelled would be compared with ФРМР, the identity bridge and
// the certificate, and sent to the registries, as something else.
func (c *Check) Names(field, family, given, patronymic string) {
	for _, n := range []struct{ name, v string }{{"family_name", family}, {"given_name", given}, {"patronymic", patronymic}} {
		if i := strings.IndexFunc(n.v, unrepresentable); i >= 0 {
			f := n.name
			if field != "" {
				f = field + "." + n.name
			}
			c.Add(reasons.TextUnrepresentable, f, fmt.Sprintf("%U at byte %d", []rune(n.v[i:])[0], i))
		}
	}
}

// unrepresentable reports a character no name may hold.
func unrepresentable(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError || r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE
}

// Patient checks a patient, normalizes its identifiers and birth date, and
// returns the patient key of DESIGN §2: the СНИЛС, else enp:<ЕНП>, else
// local:<MO OID>:<id> when the event names the MO.
func (c *Check) Patient(field string, p *topics.Patient, moOID string) string {
	before := len(c.Problems)
	c.Names(field, p.FamilyName, p.GivenName, p.Patronymic)
	c.SNILS(field+".snils", &p.SNILS)
	c.ENP(field+".enp", p.ENP)
	birth := c.Date(field+".birth_date", &p.BirthDate)
	c.NotFuture(field+".birth_date", birth)
	if len(c.Problems) > before {
		return ""
	}
	switch {
	case p.SNILS != "":
		return p.SNILS
	case p.ENP != "":
		return "enp:" + p.ENP
	case p.LocalID != "" && moOID != "":
		return "local:" + moOID + ":" + p.LocalID
	}
	c.Add(reasons.PatientIDMissing, field, "one of snils, enp or local_id (with the organization's OID) is required")
	return ""
}

// Quantity checks an amount is positive and finite.
func (c *Check) Quantity(field string, q topics.Quantity) {
	if !(q.Value > 0) || q.Value > 1e9 {
		c.Add(reasons.QuantityInvalid, field+".value", "must be a positive number")
	}
}

// Reject returns the rejection of the problems found, or nil.
func (c *Check) Reject() *Rejection {
	if len(c.Problems) == 0 {
		return nil
	}
	return &Rejection{Problems: c.Problems}
}
