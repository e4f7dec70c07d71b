package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/stack"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestDevSurvivesKill9 is issue 26 item 8 in small, on the dev binary: a
// burst of cases (each its own, so normalize accepts it and ИЭМК registers it), `kill -9` while the gateway works through it, a restart
// on the same data dir, twice, then the last burst and a clean stop. A
// read_committed reader of egisz.status.v1 must then see exactly one
// normalize outcome and one ИЭМК outcome for every event. On Apache Kafka it must; on the
// embedded broker the test reports what it saw and requires only that the
// log lost nothing (read_uncommitted holds an outcome for every event).
//
// It builds the binary and starts dev three times on each broker, so it
// runs only with EGISZ_CRASH_REPRO=1:
//
//	EGISZ_CRASH_REPRO=1 go test -run TestDevSurvivesKill9 -v ./cmd/egisz-gateway/
func TestDevSurvivesKill9(t *testing.T) {
	if os.Getenv("EGISZ_CRASH_REPRO") != "1" {
		t.Skip("a crash test of the dev binary: run with EGISZ_CRASH_REPRO=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin, err := stack.Build(ctx, ".", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kafka     string
		crashSafe bool
	}{
		{"embedded", false},
		{"apache", true},
	} {
		t.Run(tc.kafka, func(t *testing.T) {
			if tc.kafka == "apache" {
				requireApacheKafka(t)
			}
			dir := t.TempDir()
			broker, httpAddr, emu := testtool.FreeAddr(t), testtool.FreeAddr(t), testtool.FreeAddr(t)
			const bursts, perBurst = 3, 150
			var sent []string
			for round := range bursts {
				dev := exec.Command(bin, "dev", "--kafka", tc.kafka, "--data-dir", dir, "--broker", broker, "--http", httpAddr, "--emulator", emu)
				var log bytes.Buffer
				dev.Stderr = &log
				started := time.Now()
				if err := dev.Start(); err != nil {
					t.Fatal(err)
				}
				for !stack.Ready(ctx, httpAddr) {
					if ctx.Err() != nil {
						_ = dev.Process.Kill()
						t.Fatalf("dev not ready in round %d:\n%s", round, log.String())
					}
					time.Sleep(100 * time.Millisecond)
				}
				t.Logf("round %d: dev ready after %s", round, time.Since(started).Round(100*time.Millisecond))
				// Events go in chunks of ten, 100 a second, while the
				// gateway works on them; in the rounds that end in a crash
				// the process dies halfway, transactions open. An event
				// the broker did not acknowledge may or may not be in
				// the log: only acknowledged ones are counted.
				chunks := make(chan []string, perBurst)
				go func() {
					defer close(chunks)
					produceChunks(ctx, broker, round, perBurst, chunks)
				}()
				if round < bursts-1 {
					time.Sleep(time.Duration(perBurst/2) * 10 * time.Millisecond)
					_ = dev.Process.Kill()
					_ = dev.Wait()
				}
				n := 0
				for acked := range chunks {
					sent = append(sent, acked...)
					n += len(acked)
				}
				if round < bursts-1 {
					t.Logf("round %d: %d events acknowledged, dev killed with SIGKILL", round, n)
					continue
				}
				if n := waitOutcomes(ctx, t, broker, sent, kgo.ReadCommitted(), time.Minute); n < len(sent) {
					t.Logf("after the last burst read_committed shows both outcomes for %d of %d events; dev's log:\n%s", n, len(sent), tail(log.String(), 60))
				}
				_ = dev.Process.Signal(os.Interrupt)
				if err := dev.Wait(); err != nil {
					t.Errorf("dev did not stop cleanly: %v\n%s", err, log.String())
				}
			}
			// Read what stays, with the broker of the data dir started once more.
			dev := exec.Command(bin, "dev", "--kafka", tc.kafka, "--data-dir", dir, "--broker", broker, "--http", httpAddr, "--emulator", emu)
			if err := dev.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = dev.Process.Signal(os.Interrupt); _ = dev.Wait() }()
			for !stack.Ready(ctx, httpAddr) && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			committed := countOutcomes(ctx, t, broker, kgo.ReadCommitted())
			uncommitted := countOutcomes(ctx, t, broker, kgo.ReadUncommitted())
			// Every event is a case of its own: accepted by normalize,
			// registered by ИЭМК. Each stage's outcome must show once.
			var missing, twice, lost int
			byStage := map[string][3]int{} // missing, twice, lost, by stage
			for _, id := range sent {
				for _, stage := range []string{"normalize", "iemk"} {
					key := outcomeKey(strings.TrimPrefix(stage, "normalize"), id)
					c := byStage[stage]
					switch {
					case committed[key] == 0:
						missing++
						c[0]++
					case committed[key] > 1:
						twice++
						c[1]++
					}
					if uncommitted[key] == 0 {
						lost++
						c[2]++
					}
					byStage[stage] = c
				}
			}
			t.Logf("%s: %d events, %d outcomes expected (normalize and ИЭМК); read_committed: %d missing, %d shown more than once; read_uncommitted: %d missing; by stage [missing, twice, missing uncommitted]: %v",
				tc.kafka, len(sent), 2*len(sent), missing, twice, lost, byStage)
			if lost > 0 {
				t.Errorf("%d outcomes are missing even for read_uncommitted: outcomes were lost", lost)
			}
			if tc.crashSafe && (missing > 0 || twice > 0) {
				t.Errorf("on %s read_committed misses %d outcomes and shows %d more than once; want each exactly once", tc.kafka, missing, twice)
			}
		})
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// crashCase is the example case as a case of its own, id: accepted and
// forwarded to ИЭМК, so that both stages have work open when dev dies.
func crashCase(id string) *kgo.Record {
	r := exampleCase(id)
	r.Value = bytes.Replace(r.Value, []byte(`"TAP-2024-000731"`), []byte(`"TAP-`+id+`"`), 1)
	return r
}

// produceChunks sends perBurst cases in chunks of ten, a chunk every 100
// ms, and passes on the ids of each chunk the broker acknowledged; it stops
// at the first chunk that fails (the broker went with the process).
func produceChunks(ctx context.Context, broker string, round, perBurst int, acked chan<- []string) {
	// Not idempotent: an idempotent producer never gives up on a batch it
	// sent (it could break its sequence), and the broker is gone for good.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(3*time.Second), kgo.RecordRetries(2))
	if err != nil {
		return
	}
	defer cl.Close()
	for i := 0; i < perBurst; i += 10 {
		var ids []string
		var recs []*kgo.Record
		for j := i; j < i+10 && j < perBurst; j++ {
			id := fmt.Sprintf("crash-%d-%03d", round, j)
			ids = append(ids, id)
			recs = append(recs, crashCase(id))
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := cl.ProduceSync(cctx, recs...).FirstErr()
		cancel()
		if err != nil {
			return
		}
		acked <- ids
		time.Sleep(100 * time.Millisecond)
	}
}

// outcomeKey names an event's outcomes from one stage in countOutcomes'
// map: the event's id for normalize, "iemk:" and the id for ИЭМК's.
func outcomeKey(registry, ceID string) string {
	if registry == "" {
		return ceID
	}
	return registry + ":" + ceID
}

// countOutcomes reads egisz.status.v1 from the start with iso until, once
// records came, nothing more comes for three seconds (or nothing came for
// twenty), and counts each event's outcomes by stage (outcomeKey).
func countOutcomes(ctx context.Context, t *testing.T, broker string, iso kgo.IsolationLevel) map[string]int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topics.StatusTopic),
		kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]int{}
	seen := 0
	for start := time.Now(); ctx.Err() == nil; {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		fetches.EachError(func(topic string, p int32, err error) {
			if pctx.Err() == nil {
				t.Logf("read %s/%d: %v", topic, p, err)
			}
		})
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			var st topics.Status
			if json.Unmarshal(r.Value, &st) == nil && strings.HasPrefix(st.CEID, "crash-") {
				out[outcomeKey(st.Registry, st.CEID)]++
			}
		})
		seen += n
		if n == 0 && (seen > 0 || time.Since(start) > 20*time.Second) {
			break
		}
	}
	return out
}

// waitOutcomes waits until every sent event has its normalize and its ИЭМК
// outcome (or within passed) and returns how many have both.
func waitOutcomes(ctx context.Context, t *testing.T, broker string, sent []string, iso kgo.IsolationLevel, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		got := countOutcomes(ctx, t, broker, iso)
		n := 0
		for _, id := range sent {
			if got[id] > 0 && got[outcomeKey("iemk", id)] > 0 {
				n++
			}
		}
		if n == len(sent) || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		time.Sleep(time.Second)
	}
}
