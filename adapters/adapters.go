// Package adapters lists the source adapters by the ingress or reference
// topic each one reads. The adapters themselves live in the packages below:
// rmis, lab, pharmacy, esia, frmr, frmo, infosys; their shared machinery in source,
// ident, datetime and reasons.
package adapters

import (
	"github.com/egisz-gateway/egisz-gateway/adapters/esia"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmo"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/infosys"
	"github.com/egisz-gateway/egisz-gateway/adapters/lab"
	"github.com/egisz-gateway/egisz-gateway/adapters/pharmacy"
	"github.com/egisz-gateway/egisz-gateway/adapters/rmis"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Sources returns the adapter of every topic a source writes, keyed by
// the catalog's topic name (without a deployment prefix).
func Sources(opts source.Options) map[string]source.Adapter {
	return map[string]source.Adapter{
		topics.RMISCase:         rmis.NewCases(opts),
		topics.RMISDocument:     rmis.NewDocuments(opts),
		topics.RMISPrescription: rmis.NewPrescriptions(opts),
		topics.LabResult:        lab.NewResults(opts),
		topics.PharmacyDispense: pharmacy.NewDispensations(opts),
		topics.ESIAIdentity:     esia.NewIdentities(opts),
		topics.FRMREmployee:     frmr.NewEmployees(opts),
		topics.FRMOOrganization: frmo.NewOrganizations(opts),
		topics.InfoSystems:      infosys.NewSystems(opts),
	}
}
