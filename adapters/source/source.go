// Package source holds what every source adapter shares: the canonical
// event an adapter produces, the rejection it gives instead, decoding that
// is strict about what matters and tolerant about what does not, and the
// checks of the identifiers, dates and people every payload carries.
package source

import (
	"bytes"
	"crypto/sha256"
	stdjson "encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Meta is what the record's CloudEvents headers say about the event.
type Meta struct {
	SpecVersion string // ce_specversion
	ID          string // ce_id
	Source      string // ce_source
	Type        string // ce_type
	Time        string // ce_time
}

// Kinds of canonical events.
const (
	KindCase         = "case"
	KindDocument     = "document"
	KindPrescription = "prescription"
	KindLabResult    = "lab_result"
	KindDispensation = "dispensation"
	KindIdentity     = "identity"
	KindEmployee     = "employee"
	KindOrganization = "organization"
	KindSystem       = "information_system"
)

// Event is a decoded, validated and normalized source event.
type Event struct {
	Kind string
	// PatientKey is the record key: for patient events DESIGN §2's 11-digit
	// СНИЛС, enp:<ЕНП> or local:<MO OID>:<id>; for reference feeds the
	// employee's СНИЛС or the organization's OID.
	PatientKey string
	BusinessID string // case id, setId, prescription series/number, …
	DedupKey   string // PatientKey|Kind|BusinessID
	Version    int64
	UpdatedAt  time.Time
	// Fingerprint is the SHA-256 of the normalized payload: equal for a
	// re-send of the same content, whatever its spelling.
	Fingerprint [32]byte
	Payload     any                        // the normalized topics.* value
	Unknown     map[string]json.RawMessage // top-level fields the contract does not name, kept as sent

	encoded []byte // the payload as MarshalPayload writes it, computed once
}

// NewEvent fills the derived fields (dedup key, fingerprint) of an event.
func NewEvent(kind, patientKey, businessID string, version int64, updated time.Time, payload any, unknown map[string]json.RawMessage) (*Event, error) {
	e := &Event{
		Kind: kind, PatientKey: patientKey, BusinessID: businessID,
		DedupKey: patientKey + "|" + kind + "|" + businessID,
		Version:  version, UpdatedAt: updated, Payload: payload, Unknown: unknown,
	}
	b, err := e.encode()
	if err != nil {
		return nil, err
	}
	e.encoded = b
	e.Fingerprint = sha256.Sum256(b)
	return e, nil
}

// MarshalPayload returns the normalized payload as JSON with the unknown
// fields added back, in a stable order, so the same content always gives
// the same bytes. An event made by NewEvent has it already.
func (e *Event) MarshalPayload() ([]byte, error) {
	if e.encoded != nil {
		return e.encoded, nil
	}
	return e.encode()
}

func (e *Event) encode() ([]byte, error) {
	b, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", e.Kind, err)
	}
	if len(e.Unknown) == 0 {
		return b, nil
	}
	keys := make([]string, 0, len(e.Unknown))
	for k := range e.Unknown {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1]) // without the closing brace
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(kb)
		buf.WriteByte(':')
		var compact bytes.Buffer
		if err := stdjson.Compact(&compact, e.Unknown[k]); err != nil {
			return nil, fmt.Errorf("marshal %s payload: unknown field %q: %w", e.Kind, k, err)
		}
		buf.Write(compact.Bytes())
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Problem is one thing wrong with a record: a catalog code, the field at
// fault as a JSON path, and a detail in English that names what was wrong
// without repeating personal data.
type Problem struct {
	Code   string
	Field  string
	Detail string
}

func (p Problem) String() string {
	s := p.Code
	if p.Field != "" {
		s += " at " + p.Field
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Rejection is why a record was not accepted: every problem found.
type Rejection struct {
	Problems []Problem
}

func (r *Rejection) Error() string {
	parts := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		parts[i] = p.String()
	}
	return "rejected: " + strings.Join(parts, "; ")
}

// Codes lists the catalog codes of the problems, in order, without repeats.
func (r *Rejection) Codes() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range r.Problems {
		if !seen[p.Code] {
			seen[p.Code] = true
			out = append(out, p.Code)
		}
	}
	return out
}

// Reasons resolves the problems through the catalog, for status records.
func (r *Rejection) Reasons(c *reasons.Catalog) []reasons.Reason {
	out := make([]reasons.Reason, 0, len(r.Problems))
	for _, p := range r.Problems {
		out = append(out, c.Resolve(p.Code))
	}
	return out
}

// Adapter turns the raw value of one ingress topic's records into events.
type Adapter interface {
	// EventType is the ce_type the adapter accepts.
	EventType() string
	// Decode returns the event, or the rejection when the record must not go on.
	Decode(meta Meta, value []byte) (*Event, *Rejection)
}

// SpecVersion is the only ce_specversion the contract takes: the records
// follow the CloudEvents 1.0 Kafka binding, and a producer speaking another
// version may mean other things by the same headers.
const SpecVersion = "1.0"

// CheckMeta checks the CloudEvents headers an adapter relies on.
func CheckMeta(meta Meta, wantType string) []Problem {
	var ps []Problem
	switch meta.SpecVersion {
	case SpecVersion:
	case "":
		ps = append(ps, Problem{reasons.HeaderMissing, "ce_specversion", "ce_specversion must be " + SpecVersion})
	default:
		ps = append(ps, Problem{reasons.HeaderInvalid, "ce_specversion", "only CloudEvents " + SpecVersion + " is accepted"})
	}
	if meta.ID == "" {
		ps = append(ps, Problem{reasons.HeaderMissing, "ce_id", "ce_id is the idempotency key and must be set"})
	} else if detail := headerToken(meta.ID); detail != "" {
		ps = append(ps, Problem{reasons.HeaderInvalid, "ce_id", detail})
	}
	if meta.Source == "" {
		ps = append(ps, Problem{reasons.HeaderMissing, "ce_source", "ce_source names the producing system and must be set"})
	} else if detail := headerToken(meta.Source); detail != "" {
		ps = append(ps, Problem{reasons.HeaderInvalid, "ce_source", detail})
	}
	if meta.Time != "" {
		if _, err := time.Parse(time.RFC3339Nano, meta.Time); err != nil {
			ps = append(ps, Problem{reasons.HeaderInvalid, "ce_time", "ce_time, when set, is an RFC 3339 time (2026-03-20T11:30:00Z)"})
		}
	}
	if meta.Type == "" {
		ps = append(ps, Problem{reasons.HeaderMissing, "ce_type", "expected " + wantType})
	} else if meta.Type != wantType {
		ps = append(ps, Problem{reasons.HeaderTypeMismatch, "ce_type", fmt.Sprintf("%q does not belong on this topic; expected %s", meta.Type, wantType)})
	}
	return ps
}

// MaxHeaderToken is the longest ce_id or ce_source the contract takes. The
// gateway carries both on every record it writes and sends ce_id to the
// registries as the idempotency key: a UUID is 36 characters, an OID with
// a system's id well under 256.
const MaxHeaderToken = 256

// headerToken says what is wrong with a ce_id or ce_source, or "": at most
// MaxHeaderToken characters of printable ASCII without spaces. A CR/LF
// in one would be refused by the HTTP client at forwarding, and a long one
// would ride on every output of the event.
func headerToken(v string) string {
	if len(v) > MaxHeaderToken {
		return fmt.Sprintf("%d bytes; at most %d printable ASCII characters without spaces", len(v), MaxHeaderToken)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return fmt.Sprintf("a character that is not printable ASCII (or a space) at byte %d; only printable ASCII without spaces is taken", i)
		}
	}
	return ""
}

// Options configure the source adapters.
type Options struct {
	Limits Limits
	// MaxInlineFile caps a document's inline CDA file, decoded; larger
	// files travel by reference. topics.DocumentInlineBytes by default.
	MaxInlineFile int
	// Now is the clock dates are checked against.
	Now func() time.Time
	// ClockSkew is how far ahead of Now a moment of an event may be before
	// it is DATE_IN_FUTURE: the one tolerance for publishers' clocks,
	// applied to every moment of every event. DefaultClockSkew by default.
	ClockSkew time.Duration
}

// DefaultClockSkew is the tolerance for publishers' clocks when nothing is
// configured: a few minutes, what an unsynchronised but sane clock drifts.
const DefaultClockSkew = 5 * time.Minute

// DefaultOptions are the options when nothing is configured.
func DefaultOptions() Options {
	return Options{Limits: DefaultLimits(), MaxInlineFile: topics.DocumentInlineBytes, Now: time.Now, ClockSkew: DefaultClockSkew}
}

// Decoder decodes and checks the records of one payload type. Build it
// once per adapter: it reads the payload type's contract a single time.
type Decoder[T any] struct {
	eventType string
	lim       Limits
	contract  *Contract
	known     map[string]bool
}

// NewDecoder returns the decoder of T's records with the given ce_type.
func NewDecoder[T any](eventType string, lim Limits) *Decoder[T] {
	c := NewContract(reflect.TypeFor[T]())
	return &Decoder[T]{eventType: eventType, lim: lim, contract: c, known: c.names()}
}

// Start decodes a record into a new T and checks its headers and the
// contract's required fields and enums. When the value cannot be decoded at
// all it returns the rejection and a nil payload; otherwise the Check holds
// the problems so far and the adapter adds its domain checks.
func (d *Decoder[T]) Start(meta Meta, value []byte) (*T, map[string]json.RawMessage, *Check, *Rejection) {
	c := &Check{Problems: CheckMeta(meta, d.eventType)}
	p := new(T)
	unknown, ps := decode(value, d.lim, p, d.known)
	for i := range ps {
		if ps[i].Code == reasons.DecodeNotBase64 && ps[i].Field == "" {
			ps[i].Field = d.contract.base64Field(value)
		}
	}
	if len(ps) > 0 {
		c.Problems = append(c.Problems, ps...)
		return nil, nil, nil, c.Reject()
	}
	c.Problems = append(c.Problems, d.contract.Check(p)...)
	return p, unknown, c, nil
}

// Finish returns the event, or the rejection when the check found problems.
func Finish(c *Check, kind, patientKey, businessID string, version int64, updated time.Time, payload any, unknown map[string]json.RawMessage) (*Event, *Rejection) {
	if r := c.Reject(); r != nil {
		return nil, r
	}
	e, err := NewEvent(kind, patientKey, businessID, version, updated, payload, unknown)
	if err != nil {
		// The payload was decoded from JSON a moment ago; failing to encode
		// it again means an unknown field held invalid JSON.
		return nil, &Rejection{Problems: []Problem{{reasons.DecodeNotJSON, "", err.Error()}}}
	}
	return e, nil
}

// IDString spells an identifier as root:extension, the form business ids use.
func IDString(id topics.ID) string { return id.Root + ":" + id.Extension }

// PrescriptionID is a prescription's business id, series/number; the
// prescription and the dispensations against it share it.
func PrescriptionID(series, number string) string { return series + "/" + number }

// Keys is what an adapter's check derives for its event.
type Keys struct {
	Kind       string
	PatientKey string
	BusinessID string
	Version    int64
	Updated    time.Time
}

// CheckFunc is the domain check of one payload type: it normalizes p in
// place, adds the problems it finds to c, and returns the event's keys.
type CheckFunc[T any] func(p *T, c *Check, o Options) Keys

// New returns the adapter of a payload type: decoding, the contract's
// checks and the headers' through a Decoder, then the domain check.
func New[T any](eventType string, opts Options, check CheckFunc[T]) Adapter {
	return &adapter[T]{eventType: eventType, opts: opts, dec: NewDecoder[T](eventType, opts.Limits), check: check}
}

type adapter[T any] struct {
	eventType string
	opts      Options
	dec       *Decoder[T]
	check     CheckFunc[T]
}

func (a *adapter[T]) EventType() string { return a.eventType }

func (a *adapter[T]) Decode(meta Meta, value []byte) (*Event, *Rejection) {
	p, unknown, c, rej := a.dec.Start(meta, value)
	if rej != nil {
		return nil, rej
	}
	c.Now, c.ClockSkew = a.opts.Now(), a.opts.ClockSkew
	if t, err := time.Parse(time.RFC3339Nano, meta.Time); err == nil {
		c.NotFuture("ce_time", t) // when the event happened, as its headers say
	}
	k := a.check(p, c, a.opts)
	return Finish(c, k.Kind, k.PatientKey, k.BusinessID, k.Version, k.Updated, p, unknown)
}
