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

// Identities adapts egisz.esia.identity.v1.
type Identities struct {
	opts source.Options
	dec  *source.Decoder[topics.IdentityEvent]
}

// NewIdentities returns the identity bridge adapter.
func NewIdentities(opts source.Options) *Identities {
	return &Identities{opts: opts, dec: source.NewDecoder[topics.IdentityEvent](IdentityType, opts.Limits)}
}

// EventType is the ce_type Identities accepts.
func (*Identities) EventType() string { return IdentityType }

// Decode validates an identity or consent event. The identity bridge knows
// patients by СНИЛС, so it is required; later events supersede earlier ones
// by their time.
func (a *Identities) Decode(meta source.Meta, value []byte) (*source.Event, *source.Rejection) {
	p, unknown, c, rej := a.dec.Start(meta, value)
	if rej != nil {
		return nil, rej
	}
	at := c.DateTime("at", &p.At)
	c.NotFuture("at", at, a.opts.Now())
	if p.Patient.SNILS == "" {
		c.Add(reasons.FieldRequired, "patient.snils", "the identity bridge keys patients by СНИЛС")
	}
	key := c.Patient("patient", &p.Patient, "")
	if strings.HasPrefix(p.Action, "consent_") && p.ConsentScope == "" {
		c.Add(reasons.FieldRequired, "consent_scope", "required for consent events")
	}
	return source.Finish(c, source.KindIdentity, key, p.Action+"@"+string(p.At), at.Unix(), at, p, unknown)
}
