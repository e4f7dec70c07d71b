// Package frmo adapts the ФРМО reference feed of medical organizations.
package frmo

import (
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// OrganizationType is the ce_type of the ФРМО feed.
const OrganizationType = "ru.egisz.frmo.organization.v1"

// NewOrganizations returns the ФРМО adapter, which adapts egisz.frmo.organization.v1.
func NewOrganizations(opts source.Options) source.Adapter {
	return source.New(OrganizationType, opts, checkOrganization)
}

// checkOrganization validates an organization record; its key is the OID.
func checkOrganization(p *topics.Organization, c *source.Check, _ source.Options) source.Keys {
	c.DepartmentOID("oid", p.OID)
	c.DepartmentOID("old_oid", p.OldOID)
	c.DepartmentOID("parent_oid", p.ParentOID)
	if p.RegionCode != "" && !ident.ValidRegionCode(p.RegionCode) {
		c.Add(reasons.FieldInvalid, "region_code", "expected the region's code, 1 to 3 digits")
	}
	from := c.Date("active_from", &p.ActiveFrom)
	until := c.Date("active_until", &p.ActiveUntil)
	c.Order("active_from", from, "active_until", until)
	return source.Keys{Kind: source.KindOrganization, PatientKey: p.OID, BusinessID: p.OID, Version: 1}
}
