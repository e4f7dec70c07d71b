// Package esia adapts the Gosuslugi identity bridge (ЕСИА): confirmed
// identities and granted or revoked consents, keyed by СНИЛС.
package esia

import (
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// IdentityType is the ce_type of identity bridge events.
const IdentityType = "ru.egisz.esia.identity.v1"

// NewIdentities returns the identity bridge adapter, which adapts egisz.esia.identity.v1.
func NewIdentities(opts source.Options) source.Adapter {
	return source.New(IdentityType, opts, checkIdentity)
}

// checkIdentity validates an identity or consent event. The identity bridge knows
// patients by СНИЛС, so it is required; later events supersede earlier ones
// by their time.
func checkIdentity(p *topics.IdentityEvent, c *source.Check, o source.Options) source.Keys {
	at := c.Moment("at", &p.At)
	if p.Patient.SNILS == "" {
		c.Add(reasons.FieldRequired, "patient.snils", "the identity bridge keys patients by СНИЛС")
	}
	key := c.Patient("patient", &p.Patient, "")
	if strings.HasPrefix(p.Action, "consent_") && p.ConsentScope == "" {
		c.Add(reasons.FieldRequired, "consent_scope", "required for consent events")
	}
	return source.Keys{Kind: source.KindIdentity, PatientKey: key, BusinessID: p.Action + "@" + string(p.At), Version: at.Unix(), Updated: at}
}
