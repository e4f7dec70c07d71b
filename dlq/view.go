package dlq

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// View is a dead-letter record as operators see it. Listings carry the
// summary; Show adds the headers and the payload. Personal data is masked
// unless Revealed.
type View struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	ParkedAt     time.Time `json:"parked_at"`
	Key          string    `json:"key"`
	Reason       string    `json:"reason"`
	Message      string    `json:"message,omitempty"`
	Owner        string    `json:"owner,omitempty"`
	Field        string    `json:"field,omitempty"`
	Stage        string    `json:"stage,omitempty"`
	Destination  string    `json:"destination,omitempty"`
	CEID         string    `json:"ce_id,omitempty"`
	Source       string    `json:"source,omitempty"`
	Type         string    `json:"type,omitempty"`
	Original     string    `json:"original,omitempty"` // topic/partition/offset it was read from
	Attempts     int       `json:"attempts"`
	ReplayCount  int       `json:"replay_count"`
	Retryable    bool      `json:"retryable"`
	HTTPStatus   int       `json:"http_status,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	LastFailure  time.Time `json:"last_failure,omitzero"`
	Response     string    `json:"response_excerpt,omitempty"`
	Mark         *Mark     `json:"mark,omitempty"`

	Headers      []Header        `json:"headers,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	PayloadText  string          `json:"payload_text,omitempty"` // a value that is not JSON
	PayloadBytes int             `json:"payload_bytes"`
	Revealed     bool            `json:"revealed"`
}

func (e *Entry) view(full, reveal bool) View {
	v := View{
		ID: e.ID.String(), State: e.State(), ParkedAt: e.ParkedAt, Key: MaskKey(e.Key),
		Reason: e.Reason, Message: e.Message, Owner: e.Owner, Field: e.Field, Stage: e.Stage, Destination: e.Destination,
		CEID: e.CEID, Source: e.Source, Type: e.Type, Attempts: e.Attempts, ReplayCount: e.ReplayCount,
		Retryable: e.Retryable, HTTPStatus: e.HTTPStatus, FirstFailure: e.FirstFailure, LastFailure: e.LastFailure,
		Response: ident.ScrubDigits(e.Response), Mark: e.Mark, PayloadBytes: len(e.Value), Revealed: reveal,
	}
	if e.OrigTopic != "" {
		v.Original = fmt.Sprintf("%s/%d/%d", e.OrigTopic, e.OrigPartition, e.OrigOffset)
	}
	if reveal {
		v.Key = strings.ToValidUTF8(string(e.Key), "\uFFFD")
	}
	if !full {
		return v
	}
	hs := make([]Header, len(e.Headers))
	for i, h := range e.Headers {
		hs[i] = Header{Key: h.Key, Value: string(h.Value)}
	}
	v.Headers = MaskHeaders(hs, reveal)
	if e.State() == StatePurged {
		return v // an operator removed it; its content is not shown again
	}
	v.Payload, v.PayloadText = MaskPayload(e.Value, reveal)
	return v
}

// ListQuery is a filter and a page.
type ListQuery struct {
	Filter   Filter
	PageSize int    // default 50, at most 1000
	After    string // the id of the last record of the previous page
}

// ListResult is one page of records and the counts of every match.
type ListResult struct {
	Records  []View         `json:"records"`
	Total    int            `json:"total"`
	ByReason map[string]int `json:"by_reason"`
	ByState  map[string]int `json:"by_state"`
	// Next is the After of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// List returns the records that match, in id order, masked.
func (s *Service) List(ctx context.Context, a Actor, q ListQuery) (ListResult, error) {
	if err := q.Filter.Check(); err != nil {
		return ListResult{}, badRequest(err)
	}
	if err := s.authorize(ctx, a, ActList, q.Filter.String()); err != nil {
		return ListResult{}, err
	}
	size := q.PageSize
	if size <= 0 {
		size = 50
	}
	size = min(size, 1000)
	var after *ID
	if q.After != "" {
		id, err := ParseID(q.After)
		if err != nil {
			return ListResult{}, badRequest(fmt.Errorf("page: %w", err))
		}
		after = &id
	}
	marks, err := s.loadMarks(ctx)
	if err != nil {
		return ListResult{}, err
	}
	res := ListResult{Records: []View{}, ByReason: map[string]int{}, ByState: map[string]int{}}
	var page []*Entry
	err = s.scan(ctx, q.Filter, marks, func(e *Entry) {
		res.Total++
		res.ByReason[e.Reason]++
		res.ByState[e.State()]++
		if after == nil || after.Less(e.ID) {
			page = append(page, e)
		}
	})
	if err != nil {
		return ListResult{}, err
	}
	slices.SortFunc(page, func(x, y *Entry) int { return cmpID(x.ID, y.ID) })
	if len(page) > size {
		res.Next = page[size-1].ID.String()
		page = page[:size]
	}
	for _, e := range page {
		res.Records = append(res.Records, e.view(false, false))
	}
	return res, nil
}

func cmpID(a, b ID) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

// Show returns one record with its headers and payload. reveal shows
// personal data: the role must allow it, and the audit record is written
// before anything is shown.
func (s *Service) Show(ctx context.Context, a Actor, id ID, reveal bool) (View, error) {
	act := ActShow
	if reveal {
		act = ActReveal
	}
	if err := s.authorize(ctx, a, act, "id="+id.String()); err != nil {
		return View{}, err
	}
	e, err := s.read(ctx, id)
	if err != nil {
		return View{}, err
	}
	marks, err := s.loadMarks(ctx)
	if err != nil {
		return View{}, err
	}
	e.Mark = marks[id]
	if reveal {
		if err := s.Audit(ctx, a, topics.AuditRecord{Action: string(ActReveal), Filter: "id=" + id.String(), Count: 1, Outcome: "ok"}); err != nil {
			return View{}, fmt.Errorf("not revealed, the audit log refused the record: %w", err)
		}
	}
	return e.view(true, reveal), nil
}

// read fetches one record by id.
func (s *Service) read(ctx context.Context, id ID) (*Entry, error) {
	if !slices.Contains(s.DLQTopics(), id.Topic) {
		return nil, fmt.Errorf("%s: %q is not a dead-letter topic: %w", id, id.Topic, ErrNotFound)
	}
	topic := s.cfg.Prefix + id.Topic
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	ends, err := s.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	start, ok1 := starts.Lookup(topic, id.Partition)
	end, ok2 := ends.Lookup(topic, id.Partition)
	if !ok1 || !ok2 || start.Err != nil || end.Err != nil || id.Offset < start.Offset || id.Offset >= end.Offset {
		return nil, fmt.Errorf("%s: %w (deleted, expired, or never written)", id, ErrNotFound)
	}
	cl, err := kgo.NewClient(append(slices.Clone(s.cfg.KafkaOpt),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {id.Partition: kgo.NewOffset().At(id.Offset)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollRecords(ctx, 1)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		if err := fs.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		for _, r := range fs.Records() {
			if r.Offset != id.Offset || r.Attrs.IsControl() {
				return nil, fmt.Errorf("%s: %w (a transaction marker or an aborted write)", id, ErrNotFound)
			}
			e := ParseEntry(id.Topic, r)
			return &e, nil
		}
	}
}
