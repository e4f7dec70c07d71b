// Package lab adapts laboratory results published by laboratory
// information systems (ЛИС): referral, sample, tests with ФСЛИ codes.
package lab

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ResultType is the ce_type of a lab result.
const ResultType = "ru.egisz.lab.result.v1"

// NewResults returns the lab result adapter, which adapts egisz.lab.result.v1.
func NewResults(opts source.Options) source.Adapter { return source.New(ResultType, opts, checkResult) }

// checkResult validates a lab result. Its business id is the result id; numeric
// values are normalized to a decimal point.
func checkResult(p *topics.LabResultEvent, c *source.Check, o source.Options) source.Keys {
	for _, id := range []struct {
		field string
		id    topics.ID
	}{{"result_id", p.ResultID}, {"referral", p.Referral}} {
		if id.id.Root != "" && !ident.ValidOID(id.id.Root) {
			c.Add(reasons.OIDFormat, id.field+".root", "not an OID")
		}
	}
	if p.Version < 0 {
		c.Add(reasons.FieldInvalid, "version", "must be 1 or more")
	}
	completed := c.Moment("completed_at", &p.CompletedAt)
	c.MOOID("lab_oid", p.LabOID)
	if p.CaseID != nil {
		c.LocalID("case_id", *p.CaseID, ident.LocalCase)
	}
	key := c.Patient("patient", &p.Patient, p.LabOID)
	c.Person("validator", &p.Validator)
	c.LocalID("sample.id", p.Sample.ID, ident.LocalSample)
	collected := c.Moment("sample.collected_at", &p.Sample.CollectedAt)
	c.Order("sample.collected_at", collected, "completed_at", completed)
	for i := range p.Tests {
		t := &p.Tests[i]
		f := fmt.Sprintf("tests[%d]", i)
		if t.ValueType != "numeric" {
			continue
		}
		v := strings.Replace(strings.TrimSpace(t.Value), ",", ".", 1)
		if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "eEInfinityNaN") {
			c.Add(reasons.LabValueNotNumeric, f+".value", "expected a decimal number such as 128 or 5.4")
		} else {
			t.Value = v
		}
		if t.Unit == "" {
			c.Add(reasons.LabUnitMissing, f+".unit", "required for numeric values")
		}
	}
	return source.Keys{Kind: source.KindLabResult, PatientKey: key, BusinessID: source.IDString(p.ResultID), Version: p.Version, Updated: completed}
}
