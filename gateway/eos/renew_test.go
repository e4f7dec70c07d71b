package eos_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// A transaction that could not be ended (its coordinator went away in the
// middle of the commit, as when the active controller is killed) used to
// end the stage, and with it the whole process; a static member that
// does not restart holds its partitions until its session times out. The
// stage now starts a new session of the same transactional id, as a
// restart would: every record still arrives, exactly once. A failure that
// outlasts a few sessions in a row still ends the stage, for the process's
// supervisor and an operator to see.
func TestStageRenewsASessionWhoseTransactionCouldNotEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  kmsg.Key // the request that fails until the stage renews
		// forever: it never stops failing.
		forever bool
	}{
		{name: "the consumed offsets cannot be committed", key: kmsg.TxnOffsetCommit},
		{name: "the commit is never answered", key: kmsg.EndTxn},
		{name: "no commit succeeds in any new session", key: kmsg.EndTxn, forever: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Faults are injected into the broker, which only kfake allows.
			fake, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			ctx := kafkatest.Context(t, 2*time.Minute)
			seed := []kgo.Opt{kgo.SeedBrokers(fake.ListenAddrs()...)}
			cl, err := kgo.NewClient(append(seed, kgo.ProducerLinger(5*time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			const in, out, n = "in", "out", 20000
			createTopics(t, ctx, kadm.NewClient(cl), 6, 1, in, out)
			produceN(t, ctx, cl, in, n, 100)

			s, err := eos.New(eos.Config{
				Name: "copy", Group: "copy", Input: []string{in}, TransactionalID: "copy-1",
				// Few retries, so that the failure reaches the stage soon.
				ClientOpts: append(seed, kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })),
				MaxBatch:   200, Log: quietLog(),
			}, &copier{to: out})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			go func() { done <- s.Run(runCtx) }()
			waitFor(t, ctx, done, "a first commit", func() bool { return s.Stats.Committed.Load() > 0 })

			var failing atomic.Bool
			failing.Store(true)
			fake.ControlKey(int16(tc.key), func(kmsg.Request) (kmsg.Response, error, bool) {
				fake.KeepControl()
				if !failing.Load() {
					return nil, nil, false
				}
				return nil, errors.New("injected: the coordinator went away"), true
			})
			if tc.forever {
				select {
				case err := <-done:
					if err == nil {
						t.Fatal("the stage stopped without an error")
					}
					if got := s.Stats.Renewed.Load(); got != 3 {
						t.Errorf("sessions renewed before giving up: %d, want 3", got)
					}
					t.Logf("gave up: %v", err)
				case <-ctx.Done():
					t.Fatal("the stage never gave up")
				}
				return
			}
			waitFor(t, ctx, done, "a new session", func() bool { return s.Stats.Renewed.Load() > 0 })
			failing.Store(false)

			readExactlyOnce(t, ctx, fake.ListenAddrs(), out, n)
			select {
			case err := <-done:
				t.Fatalf("the stage stopped: %v", err)
			default:
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if s.Stats.Aborted.Load() == 0 {
				t.Error("no transaction was aborted")
			}
			t.Logf("%d transactions committed, %d aborted, %d sessions renewed",
				s.Stats.Committed.Load(), s.Stats.Aborted.Load(), s.Stats.Renewed.Load())
		})
	}
}

// waitFor waits until cond holds, failing if the stage stops first.
func waitFor(t *testing.T, ctx context.Context, done <-chan error, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the stage stopped before %s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("no %s before the deadline", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
