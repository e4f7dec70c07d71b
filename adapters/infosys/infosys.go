// Package infosys adapts the feed of information systems registered in
// ЕГИСЗ: which ce_source may send for which medical organizations, in
// which region, and when.
package infosys

import (
	"fmt"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// SystemType is the ce_type of the systems feed.
const SystemType = "ru.egisz.is.system.v1"

// NewSystems returns the adapter of egisz.is.system.v1.
func NewSystems(opts source.Options) source.Adapter {
	return source.New(SystemType, opts, checkSystem)
}

// checkSystem validates a system record; its key is the ce_source.
func checkSystem(p *topics.InformationSystem, c *source.Check, _ source.Options) source.Keys {
	c.Token("ce_source", p.CESource)
	if p.ClientEntityID != "" && !ident.ValidUUID(p.ClientEntityID) {
		c.Add(reasons.UUIDFormat, "client_entity_id", "expected the clientEntityId ЕГИСЗ issued, an RFC 4122 UUID")
	}
	if len(p.MOOIDs) == 0 {
		c.Add(reasons.FieldRequired, "mo_oids", "a system sends for at least one organization")
	}
	for i, oid := range p.MOOIDs {
		f := fmt.Sprintf("mo_oids[%d]", i)
		if oid == "" {
			c.Add(reasons.FieldRequired, f, "")
		}
		c.MOOID(f, oid)
	}
	if !ident.ValidRegionCode(p.RegionCode) {
		c.Add(reasons.FieldInvalid, "region_code", "expected the region's code, 1 to 3 digits")
	}
	from := c.Date("active_from", &p.ActiveFrom)
	until := c.Date("active_until", &p.ActiveUntil)
	c.Order("active_from", from, "active_until", until)
	return source.Keys{Kind: source.KindSystem, PatientKey: p.CESource, BusinessID: p.CESource, Version: 1}
}
