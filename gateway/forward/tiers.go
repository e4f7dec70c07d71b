package forward

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Headers of a record in a retry tier. The original headers stay; these
// are replaced on every move, and a record parked at the end carries them
// into the DLQ: its whole history.
const (
	HRetryDue     = "egisz_retry_due"           // RFC 3339: not to be tried before
	HRetryAttempt = "egisz_retry_attempt"       // rounds of retries in place so far
	HRetryFirst   = "egisz_retry_first_failure" // RFC 3339
	HRetryError   = "egisz_retry_last_error"    // reason code and HTTP status of the last failure
	HRetrySeq     = "egisz_retry_seq"           // the record's offset in the outbound topic: order within its key
	HRetryOrigin  = "egisz_retry_origin"        // outbound topic/partition/offset
	HRetryHistory = "egisz_retry_history"       // JSON: one entry per failed round
)

// retryEvent is one failed round in a record's history.
type retryEvent struct {
	At     time.Time `json:"at"`
	Tier   string    `json:"tier"` // where it failed: the outbound topic or a tier
	Reason string    `json:"reason,omitempty"`
	HTTP   int       `json:"http_status,omitempty"`
}

// position is where a consumer reads: the outbound topic or a retry tier.
type position interface {
	// hold waits until r may be tried: a tier's record not before it is due.
	hold(ctx context.Context, r *kgo.Record) error
	// retrying is true in a tier: its failures do not count against the
	// breaker, and a record leaves the tiers with its outcome.
	retrying() bool
	// next is the tier (from 1) a record goes to when it failed its round
	// (escalated) or queues behind an earlier record of its key.
	next(escalated bool) int
}

// outboundTopic is the outbound stage's position: a record failing there
// goes to the first tier, and so does one queueing behind a parked one.
type outboundTopic struct{}

func (outboundTopic) hold(context.Context, *kgo.Record) error { return nil }
func (outboundTopic) retrying() bool                          { return false }
func (outboundTopic) next(bool) int                           { return 1 }

// retryTier is tier n's position (from 1): a record failing there goes to
// the next tier; one queueing stays in this one.
type retryTier int

func (t retryTier) hold(ctx context.Context, r *kgo.Record) error {
	return sleepCtx(ctx, time.Until(retryDue(r))) // never early; a revocation ends the wait
}
func (retryTier) retrying() bool { return true }
func (t retryTier) next(escalated bool) int {
	if escalated {
		return int(t) + 1
	}
	return int(t)
}

func retryDue(r *kgo.Record) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, cloudevents.Get(r.Headers, HRetryDue))
	return t
}

func (s *consumer) seqOf(r *kgo.Record) int64 {
	if v := cloudevents.Get(r.Headers, HRetrySeq); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return r.Offset
}

// orderKey is what later records queue behind: the dedup key (the same
// case, document, prescription), or the whole patient by configuration.
func (s *consumer) orderKey(r *kgo.Record) string {
	if !s.cfg.OrderByPatient {
		if ev, _, err := topics.SplitOutboundWith(r.Value, json.Unmarshal); err == nil && ev.DedupKey != "" {
			return ev.DedupKey
		}
	}
	return string(r.Key)
}

// toTier sends r to a retry tier: the next one after a failed round, the
// same one (or the first, from the outbound topic) when it only queues
// behind an earlier record of its key. A record past the last tier or its
// retry budget is parked instead, with its history.
func (s *consumer) toTier(out *eos.Output, r *kgo.Record, res *result, now time.Time) {
	attempt, _ := strconv.Atoi(cloudevents.Get(r.Headers, HRetryAttempt))
	first, err := time.Parse(time.RFC3339Nano, cloudevents.Get(r.Headers, HRetryFirst))
	if err != nil {
		first = res.first
	}
	next := s.at.next(res.verdict == escalated)
	var history []retryEvent
	if h := cloudevents.Get(r.Headers, HRetryHistory); h != "" {
		_ = json.Unmarshal([]byte(h), &history)
	}
	lastErr := cloudevents.Get(r.Headers, HRetryError)
	if res.verdict == escalated {
		attempt++
		ev := retryEvent{At: now, Tier: s.topic, HTTP: res.out.HTTPStatus}
		if len(res.out.Reasons) > 0 {
			ev.Reason = res.out.Reasons[0].Code
		}
		history = append(history, ev)
		lastErr = strings.TrimSpace(ev.Reason + " " + strconv.Itoa(ev.HTTP))
	}
	ok, id := s.orderKey(r), cloudevents.Get(r.Headers, topics.HeaderID)
	histJSON, _ := json.Marshal(history)
	headers := make([]kgo.RecordHeader, 0, len(r.Headers)+7)
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, "egisz_retry_") {
			headers = append(headers, h)
		}
	}
	origin := cloudevents.Get(r.Headers, HRetryOrigin)
	if origin == "" {
		origin = r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
	}
	retry := []kgo.RecordHeader{
		{Key: HRetryAttempt, Value: []byte(strconv.Itoa(attempt))},
		{Key: HRetryFirst, Value: []byte(first.UTC().Format(time.RFC3339Nano))},
		{Key: HRetryError, Value: []byte(lastErr)},
		{Key: HRetrySeq, Value: []byte(strconv.FormatInt(s.seqOf(r), 10))},
		{Key: HRetryOrigin, Value: []byte(origin)},
		{Key: HRetryHistory, Value: histJSON},
	}
	if next > len(s.tiers) || now.Sub(first) >= s.cfg.Dest.RetryBudget.D() {
		// Out of tiers or of time: parked, with every round in its headers.
		parkedRec := *r
		parkedRec.Headers = append(headers, retry...)
		ex := s.dest.Reason(ReasonRetryExhausted)
		s.park(out, &parkedRec, rejection{outcome: "failed", reasons: append([]topics.Reason{ex}, res.out.Reasons...),
			httpStatus: res.out.HTTPStatus, excerpt: res.out.Excerpt, attempts: attempt, first: first, last: now})
		s.leave(out, r)
		return
	}
	tier := s.tiers[next-1]
	due := now.Add(s.cfg.Tiers[next-1])
	headers = append(headers, kgo.RecordHeader{Key: HRetryDue, Value: []byte(due.UTC().Format(time.RFC3339Nano))})
	moved := &kgo.Record{Topic: tier.topic, Key: r.Key, Value: r.Value, Headers: append(headers, retry...)}
	out.Emit(moved)
	entry := s.cfg.Parked.record(s.reg, ok, id, &ParkedEntry{Seq: s.seqOf(r), Tier: tier.topic, Since: now})
	out.Emit(entry)
	s.batch = append(s.batch, entry)
	if res.verdict == escalated {
		s.m.retried.WithLabelValues(s.reg, tier.topic).Inc()
	} else {
		s.m.queued.WithLabelValues(s.reg).Inc()
	}
}

// leave writes the tombstone of a record that leaves the tiers.
func (s *consumer) leave(out *eos.Output, r *kgo.Record) {
	if s.cfg.Parked == nil || (!s.at.retrying() && cloudevents.Get(r.Headers, HRetryDue) == "") {
		return
	}
	t := s.cfg.Parked.record(s.reg, s.orderKey(r), cloudevents.Get(r.Headers, topics.HeaderID), nil)
	out.Emit(t)
	s.batch = append(s.batch, t)
}

// Committed applies the batch's parked-table writes here at once: the
// next batch must see them before the table's follower does.
func (s *consumer) Committed() {
	if s.cfg.Parked != nil {
		s.cfg.Parked.apply(s.batch)
	}
	s.batch = s.batch[:0]
}

// Aborted drops them: the batch is read again.
func (s *consumer) Aborted() { s.batch = s.batch[:0] }
