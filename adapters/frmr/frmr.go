// Package frmr adapts the ФРМР reference feed of medical workers: their
// posts at organizations and their signing certificates.
package frmr

import (
	"fmt"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// EmployeeType is the ce_type of the ФРМР feed.
const EmployeeType = "ru.egisz.frmr.employee.v1"

// Employees adapts egisz.frmr.employee.v1.
type Employees struct {
	opts source.Options
	dec  *source.Decoder[topics.Employee]
}

// NewEmployees returns the ФРМР adapter.
func NewEmployees(opts source.Options) *Employees {
	return &Employees{opts: opts, dec: source.NewDecoder[topics.Employee](EmployeeType, opts.Limits)}
}

// EventType is the ce_type Employees accepts.
func (*Employees) EventType() string { return EmployeeType }

// Decode validates an employee record; its key is the normalized СНИЛС.
func (a *Employees) Decode(meta source.Meta, value []byte) (*source.Event, *source.Rejection) {
	p, unknown, c, rej := a.dec.Start(meta, value)
	if rej != nil {
		return nil, rej
	}
	c.SNILS("snils", &p.SNILS)
	for i := range p.Posts {
		post := &p.Posts[i]
		f := fmt.Sprintf("posts[%d]", i)
		c.MOOID(f+".mo_oid", post.MOOID)
		c.DepartmentOID(f+".department_oid", post.DepartmentOID)
		from := c.Date(f+".from", &post.From)
		until := c.Date(f+".until", &post.Until)
		c.Order(f+".from", from, f+".until", until)
	}
	for i := range p.Certificates {
		cert := &p.Certificates[i]
		f := fmt.Sprintf("certificates[%d]", i)
		nb := c.DateTime(f+".not_before", &cert.NotBefore)
		na := c.DateTime(f+".not_after", &cert.NotAfter)
		if !nb.IsZero() && !na.IsZero() && !nb.Before(na) {
			c.Add(reasons.CertPeriodInvalid, f, "not_after is not after not_before")
		}
	}
	return source.Finish(c, source.KindEmployee, p.SNILS, p.SNILS, 1, time.Time{}, p, unknown)
}
