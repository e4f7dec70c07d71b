package pending

import (
	"errors"
	"hash/fnv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// Entry states of a document sent to РЭМД.
const (
	StatePending    = "pending"    // accepted; waiting for the callback
	StateRegistered = "registered" // the callback (or a lookup) gave the emdrId
	StateRejected   = "rejected"   // the callback gave error codes; parked
	StateResent     = "resent"     // the callback's errors were transient; sent again
	StateOrphan     = "orphan"     // a callback for a document not (yet) known here; kept under OrphanKey(ce_id)
)

// orphanPrefix keys an early callback apart from its document's entry:
// under the same key, whichever of the two was written last would hide
// the other.
const orphanPrefix = "orphan|"

// OrphanKey is the pending topic's key of the early callback of the
// document ceID.
func OrphanKey(ceID string) string { return orphanPrefix + ceID }

// CallbackResult is a registry's final answer for one accepted call,
// delivered on its callback (seam.CallbackResult).
type CallbackResult = seam.CallbackResult

// Entry is one document in the compacted pending topic, keyed by the
// event's ce_id. While pending it keeps the outbound record, so that a
// rejection that comes hours later is parked byte for byte like any
// other; once settled it no longer does.
type Entry struct {
	State      string          `json:"state"`
	Partition  int32           `json:"partition"` // of the outbound record, and of the pending topic; the instance that owns this outbound partition settles the document
	SentAt     time.Time       `json:"sent_at,omitzero"`
	Resends    int             `json:"resends,omitempty"`
	Record     *StoredRecord   `json:"record,omitempty"`
	RegistryID string          `json:"registry_id,omitempty"`
	Callback   *CallbackResult `json:"callback,omitempty"` // an orphan's result
	FirstCB    time.Time       `json:"first_callback_at,omitzero"`
	LastCB     time.Time       `json:"last_callback_at,omitzero"`
	Callbacks  int             `json:"callbacks,omitempty"`
	Done       time.Time       `json:"done_at,omitzero"`
	Source     string          `json:"source,omitempty"` // an orphan's: the address its callback came from, for the bounds per source
}

// Encode is the entry's value in the pending topic.
func (e *Entry) Encode() []byte {
	b, _ := json.Marshal(e) // an Entry has no type that fails to encode
	return b
}

// Decoded is one record of the pending topic as read.
type Decoded struct {
	Key      string // the record's key: a ce_id, or OrphanKey(ce_id)
	Entry    *Entry // nil for a tombstone
	OrphanOf string // the ce_id when Key is an orphan's key
}

// ErrNotAnEntry is a pending topic record this gateway did not write:
// not an entry, or a pending one without the record to settle it with.
var ErrNotAnEntry = errors.New("not a pending document's entry")

// Decode reads one record of the pending topic; a nil value is a
// tombstone.
func Decode(key, value []byte) (Decoded, error) {
	d := Decoded{Key: string(key)}
	if id, ok := strings.CutPrefix(d.Key, orphanPrefix); ok {
		d.OrphanOf = id
	}
	if value == nil {
		return d, nil
	}
	var e Entry
	if err := json.Unmarshal(value, &e); err != nil {
		return Decoded{}, ErrNotAnEntry
	}
	if e.State == StatePending && e.Record == nil {
		return Decoded{}, ErrNotAnEntry // nothing to settle it with
	}
	d.Entry = &e
	return d, nil
}

// StoredRecord is an outbound record as it was consumed.
type StoredRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       []byte            `json:"key"`
	Value     []byte            `json:"value"`
	Headers   map[string]string `json:"headers"`
	Order     []string          `json:"header_order"`
}

// Store keeps r as consumed, headers in their order.
func Store(r *kgo.Record) *StoredRecord {
	sr := &StoredRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Key: r.Key, Value: r.Value, Headers: make(map[string]string, len(r.Headers))}
	for _, h := range r.Headers {
		sr.Headers[h.Key] = string(h.Value)
		sr.Order = append(sr.Order, h.Key)
	}
	return sr
}

// Record is the stored record as it was consumed.
func (sr *StoredRecord) Record() *kgo.Record {
	r := &kgo.Record{Topic: sr.Topic, Partition: sr.Partition, Offset: sr.Offset, Timestamp: sr.Timestamp, Key: sr.Key, Value: sr.Value}
	for _, k := range sr.Order {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(sr.Headers[k])})
	}
	return r
}

// PartitionOf places the entries keyed by a document's ce_id alone (its
// orphan, its tombstones) on one of n partitions of the pending topic.
func PartitionOf(ceID string, n int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(ceID))
	return int32(h.Sum32() % uint32(max(n, 1)))
}
