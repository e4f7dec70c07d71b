package dlq

import (
	"context"
	"encoding/json"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Mark is what an operator did with a dead-letter record, kept in the
// compacted egisz.state.dlq-replay.v1 under the record's id. The DLQ
// record itself stays as it was: a mark never loses a record, and a second
// replay of a marked record sends nothing.
type Mark struct {
	State  string    `json:"state"` // replayed or purged
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"` // the operator's words
	// To is where a replayed record went: topic/partition/offset.
	To string `json:"to,omitempty"`
	// Trimmed is set once a purged record is deleted from its topic.
	Trimmed bool `json:"trimmed,omitempty"`
}

// loadMarks reads every mark.
func (s *Service) loadMarks(ctx context.Context) (map[ID]*Mark, error) {
	marks := map[ID]*Mark{}
	err := s.readTopics(ctx, []string{s.cfg.Prefix + topics.DLQReplayState}, func(r *kgo.Record) {
		id, err := ParseID(string(r.Key))
		if err != nil {
			return
		}
		if r.Value == nil {
			delete(marks, id)
			return
		}
		var m Mark
		if json.Unmarshal(r.Value, &m) == nil {
			marks[id] = &m
		}
	})
	return marks, err
}

func (s *Service) markRecord(id ID, m *Mark) *kgo.Record {
	b, _ := json.Marshal(m)
	return &kgo.Record{Topic: s.cfg.Prefix + topics.DLQReplayState, Key: []byte(id.String()), Value: b}
}
