package normalize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/state"
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
// "conflict", nothing forwarded, and a release goes back to the patient's
// partition to put back the dedup entry the refused event wrote there (so
// that the same event sent again is refused again, not a "duplicate").
// Each step is one Kafka transaction with its input's offset, so the check
// is decided exactly once, and its state moves and is restored with the
// partition like the dedup state. Hop records are placed by the stage
// itself (hopPartition; for a release the partition of the dedup entry),
// not by a producer's partitioner: only this stage writes and reads them.
//
// Order: the events of one business id keep their order (one hop
// partition); events of one patient with different business ids (a case
// and a document, say) may reach the outbound topics in another order than
// they came. Side-table writes of the patient's partition (a prescription's
// state) are made before the check; a dispensation shares its
// prescription's business id, so one against a refused prescription is
// refused too.
//
// What it costs, per accepted event with a business id: one more record
// produced and consumed (the ingress value and the outbound envelope, so
// about twice the event's size, on a topic kept a week), one more
// transaction's latency before the event reaches its registry (the stage
// reads the hop like any input: typically a few milliseconds to a batch
// interval), and one side entry per business id in its partition's state
// (a 17-byte changelog key and a value of about 25 bytes: a hash of the
// patient key and the key masked), kept with no expiry yet. "First" is the
// first claim the business id's partition decides, not the first event
// sent: of two sent for two patients at nearly the same moment from
// different patient partitions, either may win.
type Owners interface {
	Claim(owner, patientKey string, side SideReader) ([]SideWrite, []topics.Reason)
}

// ReasonHopUnreadable is the catalog code of a hop record the stage cannot
// read (not one it wrote): parked as it is.
const ReasonHopUnreadable = "HOP_UNREADABLE"

// The kinds of hop record.
const (
	// hopClaim is an accepted event on its way to its business id's
	// partition.
	hopClaim byte = 'c'
	// hopReroute is an ingress record that came on another partition than
	// its key's (a publisher's partitioner other than murmur2), taken to
	// the partition that owns the key and holds its patient's state, and
	// decided there.
	hopReroute byte = 'i'
	// hopRelease goes back to the patient's partition after a refusal: the
	// dedup entry the refused event wrote there is put back as it was, so
	// that the same event sent again is refused again, not a duplicate of
	// something never forwarded.
	hopRelease byte = 'r'
)

// hop is a record of the stage's hop topic.
type hop struct {
	Kind              byte
	Owner, PatientKey string
	DedupKey          string
	Outcome           string      // the dedup rule's: new or update
	Entry             state.Entry // the dedup entry the event wrote
	Prev              state.Entry // and the one it replaced, if HadPrev
	HadPrev           bool
	// StatePartition holds the dedup entry: the ingress record's
	// partition, or its key's when it came on another (a reroute).
	StatePartition int32
	Ingress        *kgo.Record
	Records        []*kgo.Record // what the event becomes, topics prefixed
}

const hopVersion = 3

// encodeHop writes a hop as length-prefixed fields: no base64, so the
// record is not a third larger than what it carries.
func encodeHop(h hop) []byte {
	size := 128 + len(h.Owner) + len(h.PatientKey) + len(h.DedupKey) + len(h.Outcome) + recordSize(h.Ingress)
	for _, r := range h.Records {
		size += recordSize(r)
	}
	b := make([]byte, 0, size)
	b = append(b, hopVersion, h.Kind)
	b = appendString(b, h.Owner)
	b = appendString(b, h.PatientKey)
	b = appendString(b, h.DedupKey)
	b = appendString(b, h.Outcome)
	b = appendEntry(b, h.Entry)
	b = appendEntry(b, h.Prev)
	if h.HadPrev {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, int64(h.StatePartition))
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

func appendEntry(b []byte, e state.Entry) []byte {
	b = binary.BigEndian.AppendUint64(b, e.Fingerprint)
	b = binary.AppendVarint(b, e.Version)
	return binary.AppendUvarint(b, uint64(e.Seen))
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

func (r *hopReader) entry() state.Entry {
	var e state.Entry
	if b := r.take(8); len(b) == 8 {
		e.Fingerprint = binary.BigEndian.Uint64(b)
	}
	e.Version = r.varint()
	seen := r.uvarint()
	if seen > math.MaxUint32 && r.err == nil {
		r.err = errors.New("hop record's entry time is out of range")
	}
	e.Seen = uint32(seen)
	return e
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
	kind := r.take(1)
	h := hop{Owner: r.string(), PatientKey: r.string(), DedupKey: r.string(), Outcome: r.string(), Entry: r.entry(), Prev: r.entry()}
	if flag := r.take(1); len(flag) == 1 {
		h.HadPrev = flag[0] == 1
	}
	h.StatePartition = int32(r.varint())
	if len(kind) == 1 {
		h.Kind = kind[0]
		if h.Kind != hopClaim && h.Kind != hopRelease && h.Kind != hopReroute && r.err == nil {
			r.err = fmt.Errorf("hop record of unknown kind %q", h.Kind)
		}
	}
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

// keyPartition is the partition of the ingress topics a key belongs to.
func (n *Stage) keyPartition(key []byte) int32 {
	return int32(n.keyPartitioner.Partition(&kgo.Record{Key: key}, int(n.hopPartitions)))
}

// misplaced reports whether an ingress record came on another partition
// than its key's. A record without a key stays: its key is refused
// (KEY_MISMATCH) and it writes no state.
func (n *Stage) misplaced(r *kgo.Record) bool {
	return len(r.Key) > 0 && n.keyPartition(r.Key) != r.Partition
}

// reroute takes a misplaced ingress record to its key's partition through
// the hop: decided here, its dedup and side state would live apart from
// its patient's other events (issue: a case registered twice when two
// publishers partition the same key differently).
func (n *Stage) reroute(r *kgo.Record, out *eos.Output) {
	want := n.keyPartition(r.Key)
	topic := strings.TrimPrefix(r.Topic, n.cfg.Prefix)
	n.m.rerouted.WithLabelValues(topic).Inc()
	n.cfg.Log.Warn("ingress record on another partition than its key's: taken there; publishers must partition with murmur2",
		"topic", topic, "partition", r.Partition, "key_partition", want, "ce_source", carried(cloudevents.Map(r.Headers)["ce_source"]))
	body := encodeHop(hop{Kind: hopReroute, Ingress: r})
	out.Emit(&kgo.Record{Topic: n.hopTopic, Partition: want, Key: r.Key, Value: body, Headers: forwardHeaders(cloudevents.Map(r.Headers), "")})
}

// owners returns the domain's owner check when the stage takes events
// through the hop.
func (n *Stage) owners() (Owners, bool) {
	o, ok := n.domain.(Owners)
	return o, ok
}

// sendThroughHop writes an accepted event's records, keyed by its
// business id, to the hop instead of their topics, with the dedup entry
// it wrote (and the one it replaced) for a release.
func (n *Stage) sendThroughHop(r *kgo.Record, v Verdict, outcome state.Outcome, prev state.Entry, st *store, recs []*kgo.Record, out *eos.Output) {
	wrote, _ := st.Dedup(v.DedupKey)
	body := encodeHop(hop{Kind: hopClaim, Owner: v.Owner, PatientKey: v.PatientKey, DedupKey: v.DedupKey, Outcome: string(outcome),
		Entry: wrote, Prev: prev, HadPrev: outcome == state.Update, StatePartition: st.Partition, Ingress: r, Records: recs})
	out.Emit(&kgo.Record{Topic: n.hopTopic, Partition: hopPartition(v.Owner, n.hopPartitions), Key: []byte(v.Owner), Value: body,
		Headers: forwardHeaders(cloudevents.Map(r.Headers), "")})
}

// hopPartition is the partition of the hop that decides a business id:
// any stable hash will do, since only this stage writes and reads the hop.
func hopPartition(owner string, partitions int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(owner))
	return int32(h.Sum32() % uint32(max(partitions, 1)))
}

// release sends the dedup entry a refused event wrote back to the
// partition that holds it, to be put back.
func (n *Stage) release(h hop, out *eos.Output) {
	body := encodeHop(hop{Kind: hopRelease, PatientKey: h.PatientKey, DedupKey: h.DedupKey, Entry: h.Entry, Prev: h.Prev, HadPrev: h.HadPrev,
		StatePartition: h.StatePartition,
		Ingress:        &kgo.Record{Topic: h.Ingress.Topic, Partition: h.Ingress.Partition, Offset: h.Ingress.Offset, Timestamp: h.Ingress.Timestamp}})
	out.Emit(&kgo.Record{Topic: n.hopTopic, Partition: h.StatePartition, Key: []byte(h.PatientKey), Value: body,
		Headers: forwardHeaders(cloudevents.Map(h.Ingress.Headers), "")})
}

// transformHop decides a hop record in its business id's partition.
func (n *Stage) transformHop(r *kgo.Record, st *store, out *eos.Output, now time.Time) {
	h, err := decodeHop(r.Value)
	if err == nil && h.Kind == hopReroute {
		if want := n.keyPartition(h.Ingress.Key); want != r.Partition {
			err = fmt.Errorf("a rerouted record on partition %d, its key's is %d", r.Partition, want)
		} else {
			n.decide(h.Ingress, st, out, now)
			return
		}
	}
	owners, ok := n.owners()
	if err != nil || (h.Kind == hopClaim && !ok) {
		// Not a record this stage wrote (or a stage without the check
		// reads one): parked whole, with the reason, never lost.
		n.cfg.Log.Error("unreadable hop record parked", "partition", r.Partition, "offset", r.Offset, "err", err)
		in := n.input(r)
		n.park(r, in, out, now, "rejected", []topics.Reason{n.domain.Reason(ReasonHopUnreadable)}, nil)
		return
	}
	if h.Kind == hopRelease {
		// Put back only what the refused event wrote: a later event of
		// the key may have written since.
		if held, ok := st.Dedup(h.DedupKey); ok && held == h.Entry {
			if h.HadPrev {
				st.PutDedup(h.DedupKey, h.Prev)
			} else {
				st.DeleteDedup(h.DedupKey)
			}
		}
		return
	}
	in := n.input(h.Ingress)
	writes, reasons := owners.Claim(h.Owner, h.PatientKey, st)
	if len(reasons) > 0 {
		n.park(h.Ingress, in, out, now, "conflict", reasons, []kgo.RecordHeader{
			{Key: record.HBusinessID, Value: []byte(h.Owner)},
		})
		n.release(h, out)
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
