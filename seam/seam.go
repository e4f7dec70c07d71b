// Package seam holds the types both halves of the domain/runtime seam
// speak: the domain packages under adapters/ produce and consume them, the
// runtime under gateway/ carries them to and from Kafka, and neither
// imports the other. It imports only the topic catalog and the standard
// library, so either side may depend on it without reaching the other.
package seam

import (
	"encoding/json"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Input is one ingress record as the domain sees it.
type Input struct {
	Topic   string // the catalog's topic name, without a deployment prefix
	Key     []byte
	Value   []byte
	Headers map[string]string // last value per header name
}

// SideWrite is a change the domain asks for in a side table of the
// partition. A timed entry falls due at Due (zero: not any more), and the
// runtime then asks the domain what becomes of it.
type SideWrite struct {
	Table, Key string
	Value      []byte
	Timed      bool
	Due        time.Time
}

// Publish is a record the domain asks the runtime to write besides the
// routes: a topic of the catalog (unprefixed), its key and value, ce_id and
// the topic's own headers. The runtime adds the CloudEvents headers (type,
// source, time, trace).
type Publish struct {
	Topic   string
	Key     string
	Value   []byte
	Headers map[string]string
}

// Verdict is the domain's decision on one input.
type Verdict struct {
	// Reasons, when not empty, reject the record: it is parked with them.
	Reasons []topics.Reason
	// For an accepted record:
	Kind        string
	PatientKey  string
	DedupKey    string
	Fingerprint uint64
	Version     int64
	Payload     json.RawMessage // the normalized event
	Routes      []string        // catalog names of the topics it goes to
	// Owner is the business id that must keep to one patient, when the
	// event has one and the domain checks it (Owners); empty: none.
	Owner   string
	Side    []SideWrite // applied when the event is new or an update
	Publish []Publish   // written when the event is new or an update
	// Domain is the domain's own note from deciding, handed back to it
	// when the verdict is settled; the runtime does not look inside.
	Domain any
}

// SideReader reads the partition's side tables.
type SideReader interface {
	Side(table, key string) ([]byte, bool)
}
