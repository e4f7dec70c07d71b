// Package frmo adapts the ФРМО reference feed of medical organizations.
package frmo

import (
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// OrganizationType is the ce_type of the ФРМО feed.
const OrganizationType = "ru.egisz.frmo.organization.v1"

// Organizations adapts egisz.frmo.organization.v1.
type Organizations struct {
	opts source.Options
	dec  *source.Decoder[topics.Organization]
}

// NewOrganizations returns the ФРМО adapter.
func NewOrganizations(opts source.Options) *Organizations {
	return &Organizations{opts: opts, dec: source.NewDecoder[topics.Organization](OrganizationType, opts.Limits)}
}

// EventType is the ce_type Organizations accepts.
func (*Organizations) EventType() string { return OrganizationType }

// Decode validates an organization record; its key is the OID.
func (a *Organizations) Decode(meta source.Meta, value []byte) (*source.Event, *source.Rejection) {
	p, unknown, c, rej := a.dec.Start(meta, value)
	if rej != nil {
		return nil, rej
	}
	c.DepartmentOID("oid", p.OID)
	c.DepartmentOID("old_oid", p.OldOID)
	c.DepartmentOID("parent_oid", p.ParentOID)
	if p.RegionCode != "" && !ident.ValidRegionCode(p.RegionCode) {
		c.Add(reasons.FieldInvalid, "region_code", "expected the region's code, 1 to 3 digits")
	}
	from := c.Date("active_from", &p.ActiveFrom)
	until := c.Date("active_until", &p.ActiveUntil)
	c.Order("active_from", from, "active_until", until)
	return source.Finish(c, source.KindOrganization, p.OID, p.OID, 1, time.Time{}, p, unknown)
}
