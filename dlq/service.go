// Package dlq is the dead-letter operations service of DESIGN §5: it
// lists, shows (personal data masked), replays and purges the records the
// stages parked in the format of package dlq/record, marks what was done
// in egisz.state.dlq-replay.v1, and audits every action by role.
package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Config is what the dead-letter operations need.
type Config struct {
	KafkaOpt []kgo.Opt      // brokers, TLS, SASL
	Prefix   string         // the deployment's topic prefix
	Catalog  topics.Catalog // unprefixed: which topics are DLQs and where their records came from
	Log      *slog.Logger
	// ReplayRate is records a second a replay sends at most unless asked
	// otherwise (default 50).
	ReplayRate float64
	// PurgeMinAge is how old a record must be before purge removes it
	// without force (default 72h).
	PurgeMinAge time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service lists, shows, replays and purges dead-letter records and writes
// the audit log. The CLI and the admin API both call it, so a rule (a
// role's rights, masking, the audit record) holds for both.
type Service struct {
	cfg Config
	cl  *kgo.Client // reads, and writes the audit log
	adm *kadm.Client

	// ops serialises replays and purges in this process; across processes
	// the shared transactional id fences an older one (see lockOps).
	ops sync.Mutex
}

// transactionalID is shared by every process that replays or purges, so
// that a newer one fences an older one and reads its finished work.
const transactionalID = "egisz-dlq-ops"

// New connects to the cluster. Close releases it.
func New(cfg Config) (*Service, error) {
	if cfg.ReplayRate <= 0 {
		cfg.ReplayRate = 50
	}
	if cfg.PurgeMinAge <= 0 {
		cfg.PurgeMinAge = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cl, err := kgo.NewClient(cfg.KafkaOpt...)
	if err != nil {
		return nil, fmt.Errorf("dlq: kafka client: %w", err)
	}
	return &Service{cfg: cfg, cl: cl, adm: kadm.NewClient(cl)}, nil
}

// Close closes the Kafka clients.
func (s *Service) Close() { s.cl.Close() }

// DLQTopics lists the dead-letter topics, unprefixed.
func (s *Service) DLQTopics() []string {
	var out []string
	for _, t := range s.cfg.Catalog {
		if t.Role == topics.RoleDLQ {
			out = append(out, t.Name)
		}
	}
	return out
}

// Authorize lets the action through or writes the refusal to the audit
// log and returns a *DeniedError: for a caller that must refuse before it
// reads what the action is to work on (the admin API, before the body).
func (s *Service) Authorize(ctx context.Context, a Actor, act Action) error {
	return s.authorize(ctx, a, act, "")
}

// authorize lets the action through or writes the refusal to the audit
// log and returns a *DeniedError.
func (s *Service) authorize(ctx context.Context, a Actor, act Action, filter string) error {
	if a.Role.May(act) {
		return nil
	}
	err := &DeniedError{Actor: a, Action: act}
	s.cfg.Log.Warn("dead-letter operation refused", "actor", a.Name, "role", a.Role, "action", act, "via", a.Via)
	if aerr := s.Audit(ctx, a, topics.AuditRecord{Action: string(act), Filter: filter, Outcome: "denied"}); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// Audit writes one record to egisz.audit.v1 and waits until the cluster
// has it. Actor, role, via and time are filled from a. A caller that must
// not act without a trace (reveal) calls it first and stops on error.
func (s *Service) Audit(ctx context.Context, a Actor, rec topics.AuditRecord) error {
	rec.Actor, rec.Role, rec.Via = a.Name, string(a.Role), a.Via
	if rec.At == "" {
		rec.At = topics.DateTime(s.cfg.Now().UTC().Format(time.RFC3339Nano))
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	r := &kgo.Record{Topic: s.cfg.Prefix + topics.AuditTopic, Key: []byte(a.Name), Value: b, Headers: []kgo.RecordHeader{
		{Key: topics.HeaderType, Value: []byte("ru.egisz.audit.v1")},
		{Key: topics.HeaderSource, Value: []byte("egisz-gateway/" + a.Via)},
	}}
	if err := s.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("write audit record to %s: %w", r.Topic, err)
	}
	return nil
}

// ReadAudit returns the newest audit records, up to limit, oldest first.
func (s *Service) ReadAudit(ctx context.Context, a Actor, limit int) ([]topics.AuditRecord, error) {
	if err := s.authorize(ctx, a, ActAudit, ""); err != nil {
		return nil, err
	}
	var out []topics.AuditRecord
	err := s.readTopics(ctx, []string{s.cfg.Prefix + topics.AuditTopic}, func(r *kgo.Record) {
		var rec topics.AuditRecord
		if json.Unmarshal(r.Value, &rec) == nil {
			out = append(out, rec)
		}
	})
	if len(out) > limit && limit > 0 {
		out = out[len(out)-limit:]
	}
	return out, err
}

// scan reads every record of the DLQ topics the filter can select, as
// they stand now, with the operators' marks, and calls fn for each that
// matches.
func (s *Service) scan(ctx context.Context, f Filter, marks map[ID]*Mark, fn func(*Entry)) error {
	var names []string
	for _, t := range s.DLQTopics() {
		if f.selectsTopic(t) {
			names = append(names, s.cfg.Prefix+t)
		}
	}
	if len(f.Topics) > 0 {
		for _, t := range f.Topics {
			if !slices.Contains(s.DLQTopics(), t) {
				return badRequest(fmt.Errorf("%q is not a dead-letter topic (they are: %v)", t, s.DLQTopics()))
			}
		}
	}
	return s.readTopics(ctx, names, func(r *kgo.Record) {
		e := ParseEntry(r.Topic[len(s.cfg.Prefix):], r)
		e.Mark = marks[e.ID]
		if f.Match(&e) {
			fn(&e)
		}
	})
}

// readTopics reads the topics from their start to their last stable
// offset at the time of the call; records written later are not waited
// for, nor are transactions still open.
func (s *Service) readTopics(ctx context.Context, names []string, fn func(*kgo.Record)) error {
	if len(names) == 0 {
		return nil
	}
	starts, err := s.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("start offsets of %v: %w", names, err)
	}
	ends, err := s.adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("end offsets of %v: %w", names, err)
	}
	from := map[string]map[int32]kgo.Offset{}
	remaining := map[string]map[int32]int64{}
	var missing error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			missing = fmt.Errorf("topic %s: %w (run `egisz-gateway topics ensure`?)", o.Topic, o.Err)
			return
		}
		start, ok := starts.Lookup(o.Topic, o.Partition)
		if !ok || start.Err != nil || start.Offset >= o.Offset {
			return
		}
		if from[o.Topic] == nil {
			from[o.Topic], remaining[o.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		from[o.Topic][o.Partition] = kgo.NewOffset().At(start.Offset)
		remaining[o.Topic][o.Partition] = o.Offset
	})
	if missing != nil {
		return missing
	}
	if len(from) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(s.cfg.KafkaOpt),
		kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // the last offset before the end is often a commit marker
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	left := 0
	for _, ps := range remaining {
		left += len(ps)
	}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %v: %w", names, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Topic][r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset+1 >= end {
				delete(remaining[r.Topic], r.Partition)
				left--
			}
		})
	}
	return nil
}
