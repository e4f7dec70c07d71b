package eos_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// outcomes copies each record to out and writes its outcome ("copied")
// to status; Park writes the record's id to dlq and "parked" to status,
// as the gateway's stages do.
type outcomes struct{ out, status, dlq string }

func (o outcomes) Transform(_ context.Context, in *kgo.Record, out *eos.Output) error {
	out.Emit(&kgo.Record{Topic: o.out, Key: in.Key, Value: in.Value, Headers: in.Headers})
	out.Emit(&kgo.Record{Topic: o.status, Key: in.Key, Value: []byte(id(in) + " copied")})
	return nil
}

func (o outcomes) Park(_ context.Context, in *kgo.Record, why eos.Unwritable, out *eos.Output) error {
	out.Emit(&kgo.Record{Topic: o.dlq, Key: in.Key, Value: []byte(id(in)),
		Headers: []kgo.RecordHeader{{Key: "why", Value: []byte(why.String())}, {Key: "too-large", Value: []byte(strconv.FormatBool(why.TooLarge()))}}})
	out.Emit(&kgo.Record{Topic: o.status, Key: in.Key, Value: []byte(id(in) + " parked")})
	return nil
}

func id(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "ce_id" {
			return string(h.Value)
		}
	}
	return ""
}

// sized is an input whose copy to the out topic takes exactly bytes in a
// batch of its own.
func sized(topic, ceID string, bytes int) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte("patient-1"), Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte(ceID)}}}
	// Lengths are varints: growing the value can grow them too, so step
	// until the size settles.
	for i := 0; i < 8 && recsize.Batch(r) != bytes; i++ {
		n := max(0, len(r.Value)+bytes-recsize.Batch(r))
		// Random bytes: the producer compresses, and the broker measures
		// the compressed batch.
		r.Value = make([]byte, n)
		_, _ = rand.Read(r.Value)
	}
	if got := recsize.Batch(r); got != bytes {
		panic(fmt.Sprintf("sized %d: got %d", bytes, got)) // a bug of the test itself
	}
	return r
}

// TestUnwritableOutputIsParkedAndThePartitionGoesOn: an input whose copy
// is too large for the out topic is parked, once, and the records behind
// it on the same partition get their outcomes; at the limit and just under
// it, a copy is written. Three ways to meet the limit: the stage's own
// check, the producer's (franz-go refuses a record larger than its batch
// limit), and the broker's (the topic's max.message.bytes below what the
// producer thinks, so the broker refuses a batch of several inputs and
// the stage must find which one).
func TestUnwritableOutputIsParkedAndThePartitionGoesOn(t *testing.T) {
	const limit = 20_000 // the out topic's max.message.bytes
	cases := []struct {
		name     string
		maxBytes func(string) int32 // Config.MaxBytes
		producer []kgo.Opt
		refused  bool // the park's reason is a refusal, not the stage's check
	}{
		// The producer keeps to the topic's limit, as the gateway's does:
		// the stage's check finds the inputs before anything is written.
		{"checked before writing", nil, []kgo.Opt{kgo.ProducerBatchMaxBytes(recsize.ProducerLimit(limit))}, false},
		{"refused by the producer", nil, []kgo.Opt{kgo.ProducerBatchMaxBytes(recsize.ProducerLimit(limit))}, true},
		{"refused by the broker", nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kc := kafkatest.New(t)
			ctx := kafkatest.Context(t, 2*time.Minute)
			adm := kc.Admin(t)
			in, out, status, dlqT := kc.Name("in"), kc.Name("out"), kc.Name("status"), kc.Name("dlq")
			createTopics(t, ctx, adm, 1, -1, in, status, dlqT)
			createTopicWith(t, ctx, adm, out, map[string]*string{"max.message.bytes": kadm.StringPtr(strconv.Itoa(limit))})
			maxBytes := tc.maxBytes
			if tc.name == "checked before writing" {
				maxBytes = func(topic string) int32 {
					if topic == out {
						return limit
					}
					return 1 << 20
				}
			}

			// One partition: every record is behind the one before it.
			inputs := []*kgo.Record{
				sized(in, "small-1", 500),
				sized(in, "under", limit-1),
				sized(in, "at", limit),
				sized(in, "over", limit+1),
				sized(in, "small-2", 500),
				sized(in, "far-over", 3*limit),
				sized(in, "small-3", 500),
			}
			want := map[string]string{"small-1": "copied", "under": "copied", "at": "copied", "over": "parked",
				"small-2": "copied", "far-over": "parked", "small-3": "copied"}
			pub := kc.Client(t, kgo.ProducerBatchMaxBytes(1<<20))
			for _, r := range inputs {
				if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}

			opts := append([]kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, tc.producer...)
			s, err := eos.New(eos.Config{
				Name: "sizes", Group: kc.Name("sizes"), Input: []string{in}, TransactionalID: kc.Name("sizes-1"),
				ClientOpts: opts, MaxBytes: maxBytes, Log: quietLog(),
			}, outcomes{out: out, status: status, dlq: dlqT})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(runCtx) }()

			got := readCommitted(t, ctx, kc.Brokers, status, len(want))
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for ceID, outcome := range want {
				if len(got[ceID]) != 1 || got[ceID][0] != outcome {
					t.Errorf("%s: outcomes %v, want exactly [%s]", ceID, got[ceID], outcome)
				}
			}
			copies := readCommitted(t, ctx, kc.Brokers, out, 5)
			for ceID, outcome := range want {
				if n := len(copies[ceID]); (outcome == "copied") != (n == 1) || n > 1 {
					t.Errorf("%s: %d copies written, outcome %s", ceID, n, outcome)
				}
			}
			parked := readCommittedRecords(t, ctx, kc.Brokers, dlqT, 2)
			for _, r := range parked {
				tooLarge := ""
				for _, h := range r.Headers {
					if h.Key == "too-large" {
						tooLarge = string(h.Value)
					}
				}
				if tooLarge != "true" {
					t.Errorf("%s parked as not too large (%s)", r.Value, tooLarge)
				}
				if why := string(r.Headers[0].Value); tc.refused != strings.Contains(why, "refused") {
					t.Errorf("%s parked because %q; want a refusal: %v", r.Value, why, tc.refused)
				}
			}
			if n := s.Stats.Unwritable.Load(); n != 2 {
				t.Errorf("Stats.Unwritable = %d, want 2", n)
			}
			if tc.name == "checked before writing" && (s.Stats.Aborted.Load() != 0 || s.Stats.Isolated.Load() != 0) {
				// Found before writing, they are parked in the same
				// transaction: no abort, no batch read again.
				t.Errorf("%d transactions aborted, %d of one input; want none", s.Stats.Aborted.Load(), s.Stats.Isolated.Load())
			}
			if tc.name == "refused by the broker" && s.Stats.Isolated.Load() == 0 {
				t.Error("the broker refused batches of several inputs, and no input was taken alone to find the one")
			}
			t.Logf("%d transactions committed, %d aborted, %d of one input", s.Stats.Committed.Load(), s.Stats.Aborted.Load(), s.Stats.Isolated.Load())
		})
	}
}

func createTopicWith(t *testing.T, ctx context.Context, adm *kadm.Client, name string, cfg map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, 1, -1, cfg, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	createTopicsWait(t, ctx, adm, name)
}

func createTopicsWait(t *testing.T, ctx context.Context, adm *kadm.Client, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), name)
		if err == nil && d.Error() == nil && len(d[name].Partitions) == 1 {
			return
		}
	}
	t.Fatalf("topic %s has no leader after 30s", name)
}

// readCommitted reads n records of topic read_committed and returns, by
// ce_id (the first word of a status value, or the record's ce_id header),
// the second word of each status value or "copy".
func readCommitted(t *testing.T, ctx context.Context, brokers []string, topic string, n int) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, r := range readCommittedRecords(t, ctx, brokers, topic, n) {
		if ceID := id(r); ceID != "" {
			got[ceID] = append(got[ceID], "copy")
			continue
		}
		f := strings.Fields(string(r.Value))
		got[f[0]] = append(got[f[0]], f[1])
	}
	return got
}

// readCommittedRecords reads topic read_committed until it has n records
// and a moment more has shown no other.
func readCommittedRecords(t *testing.T, ctx context.Context, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before the deadline", len(recs), n, topic)
		}
		recs = append(recs, fs.Records()...)
	}
	more, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	recs = append(recs, cl.PollFetches(more).Records()...)
	return recs
}
