// Package frmr adapts the ФРМР reference feed of medical workers: their
// posts at organizations and their signing certificates.
package frmr

import (
	"fmt"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// EmployeeType is the ce_type of the ФРМР feed.
const EmployeeType = "ru.egisz.frmr.employee.v1"

// NewEmployees returns the ФРМР adapter, which adapts egisz.frmr.employee.v1.
func NewEmployees(opts source.Options) source.Adapter {
	return source.New(EmployeeType, opts, checkEmployee)
}

// checkEmployee validates an employee record; its key is the normalized СНИЛС.
func checkEmployee(p *topics.Employee, c *source.Check, _ source.Options) source.Keys {
	c.SNILS("snils", &p.SNILS)
	c.Names("", p.FamilyName, p.GivenName, p.Patronymic)
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
	return source.Keys{Kind: source.KindEmployee, PatientKey: p.SNILS, BusinessID: p.SNILS, Version: 1}
}
