package normalize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Owners is implemented by domains whose accepted events name a business
// id that must keep to one patient (Verdict.Owner): the same case under a
// second СНИЛС is one patient registered twice, not a new case.
//
// The dedup state follows the patient key, so no partition of it sees the
// same business id under two patients. The stage therefore takes such an
// event, once the patient's partition has accepted it, through a hop: a
// record keyed by the business id on topics.NormalizeBusiness, which this
// same stage reads (co-partitioned with the ingress topics, so partition
// p's state serves both). The hop record holds the ingress record and
// every record the event becomes (outbound, pharmacy, status). In the
// business id's partition Claim decides: writes (the first patient, kept
// in a side table of that partition) and the records are written; or
// reasons, and the ingress record is parked with them, status
// "conflict", nothing forwarded. Each step is one Kafka transaction with
// its input's offset, so the check is decided exactly once, and its state
// moves and is restored with the partition like the dedup state.
//
// What it costs, per accepted event with a business id: one more record
// produced and consumed (the ingress value and the outbound envelope, so
// about twice the event's size, on a topic kept a week), one more
// transaction's latency before the event reaches its registry (the stage
// reads the hop like any input: typically a few milliseconds to a batch
// interval), and one side entry per business id in its partition's state
// (a 17-byte changelog key and a value of about 25 bytes: a hash of the
// patient key and the key masked).
type Owners interface {
	Claim(owner, patientKey string, side SideReader) ([]SideWrite, []topics.Reason)
}

// ReasonHopUnreadable is the catalog code of a hop record the stage cannot
// read (not one it wrote): parked as it is.
const ReasonHopUnreadable = "HOP_UNREADABLE"

// hop is an accepted event on its way to its business id's partition.
type hop struct {
	Owner, PatientKey string
	Outcome           string // the dedup rule's: new or update
	Ingress           *kgo.Record
	Records           []*kgo.Record // what the event becomes, topics prefixed
}

const hopVersion = 1

// encodeHop writes a hop as length-prefixed fields: no base64, so the
// record is not a third larger than what it carries.
func encodeHop(h hop) []byte {
	size := 64 + len(h.Owner) + len(h.PatientKey) + len(h.Outcome) + recordSize(h.Ingress)
	for _, r := range h.Records {
		size += recordSize(r)
	}
	b := make([]byte, 0, size)
	b = append(b, hopVersion)
	b = appendString(b, h.Owner)
	b = appendString(b, h.PatientKey)
	b = appendString(b, h.Outcome)
	b = appendRecord(b, h.Ingress)
	b = binary.AppendUvarint(b, uint64(len(h.Records)))
	for _, r := range h.Records {
		b = appendRecord(b, r)
	}
	return b
}

func recordSize(r *kgo.Record) int {
	n := 40 + len(r.Topic) + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0) // nil and empty are one: a record key
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func appendRecord(b []byte, r *kgo.Record) []byte {
	b = appendString(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = binary.AppendVarint(b, r.Timestamp.UnixMilli())
	b = appendBytes(b, r.Key)
	b = appendBytes(b, r.Value)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendString(b, h.Key)
		b = appendBytes(b, h.Value)
	}
	return b
}

var errHopShort = errors.New("hop record ends early")

// hopReader reads the fields encodeHop wrote; the first error sticks.
type hopReader struct {
	b   []byte
	err error
}

func (r *hopReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errHopShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *hopReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errHopShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *hopReader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errHopShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *hopReader) string() string { return string(r.take(r.uvarint())) }

func (r *hopReader) bytes() []byte {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	return r.take(n - 1)
}

func (r *hopReader) record() *kgo.Record {
	rec := &kgo.Record{Topic: r.string()}
	rec.Partition = int32(r.varint())
	rec.Offset = r.varint()
	rec.Timestamp = time.UnixMilli(r.varint())
	rec.Key = r.bytes()
	rec.Value = r.bytes()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each header takes at least a byte
		r.err = errHopShort
		return rec
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: r.string(), Value: r.bytes()})
	}
	return rec
}

func decodeHop(b []byte) (hop, error) {
	if len(b) == 0 || b[0] != hopVersion {
		return hop{}, fmt.Errorf("hop record is not of version %d", hopVersion)
	}
	r := &hopReader{b: b[1:]}
	h := hop{Owner: r.string(), PatientKey: r.string(), Outcome: r.string()}
	h.Ingress = r.record()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return hop{}, errHopShort
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		h.Records = append(h.Records, r.record())
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("hop record has bytes after its last field")
	}
	if r.err != nil {
		return hop{}, fmt.Errorf("read hop record: %w", r.err)
	}
	return h, nil
}

// owners returns the domain's owner check when the stage takes events
// through the hop.
func (n *Stage) owners() (Owners, bool) {
	o, ok := n.domain.(Owners)
	return o, ok
}

// sendThroughHop writes an accepted event's records, keyed by its
// business id, to the hop instead of their topics.
func (n *Stage) sendThroughHop(r *kgo.Record, v Verdict, outcome string, recs []*kgo.Record, out *eos.Output) {
	body := encodeHop(hop{Owner: v.Owner, PatientKey: v.PatientKey, Outcome: outcome, Ingress: r, Records: recs})
	out.Emit(&kgo.Record{Topic: n.hopTopic, Key: []byte(v.Owner), Value: body, Headers: forwardHeaders(headerMap(r.Headers), "")})
}

// transformHop decides a hop record in its business id's partition.
func (n *Stage) transformHop(r *kgo.Record, st *store, out *eos.Output, now time.Time) {
	h, err := decodeHop(r.Value)
	owners, ok := n.owners()
	if err != nil || !ok {
		// Not a record this stage wrote (or a stage without the check
		// reads one): parked whole, with the reason, never lost.
		n.cfg.Log.Error("unreadable hop record parked", "partition", r.Partition, "offset", r.Offset, "err", err)
		in := n.input(r)
		n.park(r, in, out, now, "rejected", []topics.Reason{n.domain.Reason(ReasonHopUnreadable)}, nil)
		return
	}
	in := n.input(h.Ingress)
	writes, reasons := owners.Claim(h.Owner, h.PatientKey, st)
	if len(reasons) > 0 {
		n.park(h.Ingress, in, out, now, "conflict", reasons, []kgo.RecordHeader{
			{Key: dlq.HBusinessID, Value: []byte(h.Owner)},
		})
		n.m.outcomes.WithLabelValues(in.Topic, "conflict").Inc()
		for _, rs := range reasons {
			n.m.rejected.WithLabelValues(in.Topic, rs.Code).Inc()
		}
		return
	}
	writeSide(st, writes)
	for _, rec := range h.Records {
		out.Emit(rec)
	}
	n.m.outcomes.WithLabelValues(in.Topic, h.Outcome).Inc()
}
