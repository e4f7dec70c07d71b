package dlq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ID names one dead-letter record: its DLQ topic (without the deployment's
// topic prefix), partition and offset, written egisz.dlq.remd/3/17.
type ID struct {
	Topic     string
	Partition int32
	Offset    int64
}

func (id ID) String() string { return fmt.Sprintf("%s/%d/%d", id.Topic, id.Partition, id.Offset) }

// Less orders IDs by topic, partition and offset: the order of a listing.
func (id ID) Less(o ID) bool {
	if id.Topic != o.Topic {
		return id.Topic < o.Topic
	}
	if id.Partition != o.Partition {
		return id.Partition < o.Partition
	}
	return id.Offset < o.Offset
}

// ParseID reads an ID written as topic/partition/offset.
func ParseID(s string) (ID, error) {
	i := strings.LastIndexByte(s, '/')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(s[:i], '/')
	}
	if j <= 0 {
		return ID{}, fmt.Errorf("record id %q: want <dlq topic>/<partition>/<offset>", s)
	}
	p, err1 := strconv.ParseInt(s[j+1:i], 10, 32)
	o, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return ID{}, fmt.Errorf("record id %q: partition and offset must be whole numbers", s)
	}
	return ID{Topic: s[:j], Partition: int32(p), Offset: o}, nil
}

// Entry is a dead-letter record read back, with its dlq.* headers parsed.
type Entry struct {
	ID       ID
	ParkedAt time.Time // the DLQ record's timestamp
	Key      []byte
	Value    []byte
	Headers  []kgo.RecordHeader

	Reason, Message, Owner, Field, Stage, Destination string
	CEID, Source, Type                                string // the event's CloudEvents headers
	OrigTopic                                         string
	OrigPartition                                     int32
	OrigOffset                                        int64
	OrigTimestamp, FirstFailure, LastFailure          time.Time
	Attempts, ReplayCount, HTTPStatus                 int
	Retryable                                         bool
	Response                                          string

	// Mark is what an operator did with the record; nil while it is parked.
	Mark *Mark
}

// State is parked, replayed or purged.
func (e *Entry) State() string {
	if e.Mark == nil {
		return StateParked
	}
	return e.Mark.State
}

// ParseEntry reads a record of the DLQ topic named topic (unprefixed).
func ParseEntry(topic string, r *kgo.Record) Entry {
	e := Entry{
		ID:       ID{Topic: topic, Partition: r.Partition, Offset: r.Offset},
		ParkedAt: r.Timestamp, Key: r.Key, Value: r.Value, Headers: r.Headers,
	}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case record.HReason:
			e.Reason = v
		case record.HMessage:
			e.Message = v
		case record.HOwner:
			e.Owner = v
		case record.HField:
			e.Field = v
		case record.HStage:
			e.Stage = v
		case record.HDestination:
			e.Destination = v
		case record.HOrigTopic:
			e.OrigTopic = v
		case record.HOrigPartition:
			p, _ := strconv.ParseInt(v, 10, 32)
			e.OrigPartition = int32(p)
		case record.HOrigOffset:
			e.OrigOffset, _ = strconv.ParseInt(v, 10, 64)
		case record.HOrigTimestamp:
			e.OrigTimestamp, _ = time.Parse(time.RFC3339Nano, v)
		case record.HFirstFailure:
			e.FirstFailure, _ = time.Parse(time.RFC3339Nano, v)
		case record.HLastFailure:
			e.LastFailure, _ = time.Parse(time.RFC3339Nano, v)
		case record.HAttempts:
			e.Attempts, _ = strconv.Atoi(v)
		case record.HReplayCount:
			e.ReplayCount, _ = strconv.Atoi(v)
		case record.HHTTPStatus:
			e.HTTPStatus, _ = strconv.Atoi(v)
		case record.HRetryable:
			e.Retryable = v == "true"
		case record.HResponseExcerpt:
			e.Response = v
		case topics.HeaderID:
			e.CEID = v
		case topics.HeaderSource:
			e.Source = v
		case topics.HeaderType:
			e.Type = v
		}
	}
	return e
}
