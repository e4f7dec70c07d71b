package dlq

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
)

// Filter selects dead-letter records. Empty fields select everything; a
// field with several values selects any of them.
type Filter struct {
	Topics       []string  `json:"topics,omitempty"`       // DLQ topics, unprefixed: egisz.dlq.ingress, egisz.dlq.remd…
	Reasons      []string  `json:"reasons,omitempty"`      // dlq.reason codes
	Owners       []string  `json:"owners,omitempty"`       // clinic, mis, integrator, registry
	Sources      []string  `json:"sources,omitempty"`      // ce_source of the event
	Destinations []string  `json:"destinations,omitempty"` // remd, iemk, erx
	States       []string  `json:"states,omitempty"`       // parked, replayed, purged; empty: parked and replayed
	Since        time.Time `json:"since,omitzero"`         // parked at or after
	Until        time.Time `json:"until,omitzero"`         // parked before
	Patient      string    `json:"patient,omitempty"`      // the patient key: a СНИЛС in any spelling, enp:…, local:…
	IDs          []ID      `json:"-"`
}

// States of a dead-letter record.
const (
	StateParked   = "parked"
	StateReplayed = "replayed"
	StatePurged   = "purged"
)

// Check reports a filter that cannot be right: an unknown state, a time
// range that ends before it starts.
func (f Filter) Check() error {
	for _, s := range f.States {
		if s != StateParked && s != StateReplayed && s != StatePurged {
			return fmt.Errorf("state %q is not one of parked, replayed, purged", s)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return fmt.Errorf("time range ends (%s) before it starts (%s)", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return nil
}

// patientKey is the patient filter as keys are written: a СНИЛС in any of
// its spellings becomes its 11 digits.
func (f Filter) patientKey() string {
	if f.Patient == "" {
		return ""
	}
	if d, err := ident.NormalizeSNILS(f.Patient); err == nil {
		return d
	}
	return f.Patient
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *Entry) bool {
	in := func(vals []string, v string) bool { return len(vals) == 0 || slices.Contains(vals, v) }
	state := e.State()
	switch {
	case len(f.IDs) > 0 && !slices.Contains(f.IDs, e.ID),
		!in(f.Topics, e.ID.Topic), !in(f.Reasons, e.Reason), !in(f.Owners, e.Owner),
		!in(f.Sources, e.Source), !in(f.Destinations, e.Destination),
		len(f.States) == 0 && state == StatePurged, !in(f.States, state),
		!f.Since.IsZero() && e.ParkedAt.Before(f.Since),
		!f.Until.IsZero() && !e.ParkedAt.Before(f.Until),
		f.Patient != "" && string(e.Key) != f.patientKey():
		return false
	}
	return true
}

// String describes the filter for the audit log and progress lines, with
// the patient key masked.
func (f Filter) String() string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, name+"="+strings.Join(vals, ","))
		}
	}
	add("topic", f.Topics)
	add("reason", f.Reasons)
	add("owner", f.Owners)
	add("source", f.Sources)
	add("destination", f.Destinations)
	add("state", f.States)
	if !f.Since.IsZero() {
		parts = append(parts, "since="+f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until="+f.Until.UTC().Format(time.RFC3339))
	}
	if f.Patient != "" {
		parts = append(parts, "patient="+MaskKey([]byte(f.patientKey())))
	}
	if len(f.IDs) > 0 {
		ids := make([]string, 0, min(len(f.IDs), 20))
		for _, id := range f.IDs[:min(len(f.IDs), 20)] {
			ids = append(ids, id.String())
		}
		if len(f.IDs) > 20 {
			ids = append(ids, fmt.Sprintf("…(%d in all)", len(f.IDs)))
		}
		parts = append(parts, "id="+strings.Join(ids, ","))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// selectsTopic reports whether records of the DLQ topic can match.
func (f Filter) selectsTopic(topic string) bool {
	if len(f.Topics) > 0 && !slices.Contains(f.Topics, topic) {
		return false
	}
	if len(f.IDs) == 0 {
		return true
	}
	for _, id := range f.IDs {
		if id.Topic == topic {
			return true
		}
	}
	return false
}
