package eos_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
)

// threeNodes starts a three-node KRaft cluster of the release kafka-local
// fetched, or skips (fails under CI) when there is none.
func threeNodes(t *testing.T) *kafkabroker.Cluster {
	t.Helper()
	in, ok := kafkabroker.FromEnv()
	if !ok {
		// make test runs this in its real-broker pass, where kafka-local
		// sets the variable, and fails the run when Java or Maven is
		// missing under CI.
		t.Skipf("no real Kafka release (%s unset): make test runs this", kafkabroker.EnvHome)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := kafkabroker.Start(ctx, in, 3, t.TempDir(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestBrokerKilledMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	cluster := threeNodes(t)
	brokers := []string{cluster.Nodes[0].Addr, cluster.Nodes[1].Addr, cluster.Nodes[2].Addr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	createTopics(t, ctx, adm, 6, 3, "in", "out")

	const n = 100_000
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	produceN(t, ctx, prod, "in", n, 300)
	prod.Close()

	// The victim leads partition 0 of the output topic: killing it moves
	// leadership while the stage writes there.
	md, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), "out")
	if err != nil {
		t.Fatal(err)
	}
	victim := int(md["out"].Partitions[0].Leader)

	stage, err := eos.New(eos.Config{
		Name: "fault", Group: "fault-copy", Input: []string{"in"}, TransactionalID: "fault-copy-1",
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, MaxBatch: 1000, Log: quietLog(),
	}, &copier{to: "out"})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stage.Run(runCtx) }()

	killed := make(chan time.Time, 1)
	go func() {
		for stage.Stats.In.Load() < n/4 && runCtx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if err := cluster.Kill(victim); err != nil {
			t.Error(err)
			return
		}
		killed <- time.Now()
		time.Sleep(5 * time.Second)
		if err := cluster.Restart(victim); err != nil {
			t.Error(err)
		}
	}()

	start := time.Now()
	gap := readExactlyOnce(t, ctx, brokers, "out", n)
	took := time.Since(start)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("stage: %v", err)
	}
	select {
	case at := <-killed:
		t.Logf("node %d killed %.1fs into the run; %d records read exactly once in %s; longest pause seen by the reader %s; %d transactions committed, %d aborted",
			victim, at.Sub(start).Seconds(), n, took.Round(time.Millisecond), gap.Round(time.Millisecond), stage.Stats.Committed.Load(), stage.Stats.Aborted.Load())
	default:
		t.Fatal("the stage finished before the broker was killed")
	}
	if err := cluster.WaitReady(ctx, time.Minute); err != nil {
		t.Fatalf("the restarted node did not rejoin: %v", err)
	}
}
