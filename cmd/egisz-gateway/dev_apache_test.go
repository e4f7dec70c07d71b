package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// requireApacheKafka skips (fails under CI=true) when dev --kafka=apache
// cannot run here: no Java, or no Maven to fetch a release not yet cached.
func requireApacheKafka(t *testing.T) {
	t.Helper()
	testtool.Require(t, "java")
	if !kafkabroker.Cached(kafkabroker.DefaultCacheDir()) {
		testtool.Require(t, "mvn")
	}
}

// withPath is an environment holding only the process's PATH, where dev
// looks for java and mvn.
func withPath(k string) string {
	if k == "PATH" {
		return os.Getenv("PATH")
	}
	return ""
}

// The same stack on Apache Kafka: the example case is accepted and
// registered; stopped and started again on its data dir, the broker keeps
// its topics and statuses, and nothing is processed twice.
func TestDevOnApacheKafka(t *testing.T) {
	requireApacheKafka(t)
	dir := t.TempDir()
	d := startDevEnv(t, withPath, "--kafka", "apache", "--data-dir", dir)
	t.Logf("dev on Apache Kafka ready after %s", d.waitReady(t, 4*time.Minute))
	if !strings.Contains(d.stderr.String(), "Apache Kafka broker listening") || strings.Contains(d.stderr.String(), "after a crash") {
		t.Errorf("dev's log does not say it runs on Apache Kafka, or warns about crashes as the embedded broker does:\n%s", d.stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, exampleCase("apache-case-1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := []string{"accepted", "iemk:registered"}
	if got := waitStatuses(t, d.broker, "apache-case-1", len(want)); !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if code := d.stop(t); code != exitOK {
		t.Fatalf("dev exited %d after Ctrl-C:\n%s", code, d.stderr.String())
	}
	if ok, _ := kafkabroker.HoldsKafkaData(dir); !ok {
		t.Fatalf("no Kafka storage in the data dir %s", dir)
	}

	d2 := startDevEnv(t, withPath, "--kafka", "apache", "--data-dir", dir, "--broker", d.broker)
	d2.waitReady(t, 4*time.Minute)
	if !strings.Contains(d2.stderr.String(), "created=0") {
		t.Errorf("the second start recreated topics:\n%s", d2.stderr.String())
	}
	// Read again after the restart: the same two statuses, not more.
	if got := waitStatuses(t, d.broker, "apache-case-1", len(want)); !slices.Equal(got, want) {
		t.Errorf("after a restart the statuses are %v, want %v", got, want)
	}
	if code := d2.stop(t); code != exitOK {
		t.Fatalf("second dev exited %d:\n%s", code, d2.stderr.String())
	}
}

// exampleCase is docs/examples/case.json as README publishes it, with ceID.
func exampleCase(ceID string) *kgo.Record {
	tp, _ := topics.Default().Lookup(topics.RMISCase)
	return &kgo.Record{Topic: topics.RMISCase, Key: []byte("11223344595"), Value: topics.Example("case.json"), Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte(tp.EventType)},
		{Key: "content-type", Value: []byte("application/json")},
	}}
}

// waitStatuses reads egisz.status.v1 from the start with read_committed
// until ceID has n statuses (or a minute passed) and two seconds more, and
// returns them sorted, "registry:outcome" for a registry's.
func waitStatuses(t *testing.T, broker, ceID string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topics.StatusTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	collect := func(r *kgo.Record) {
		var st topics.Status
		if json.Unmarshal(r.Value, &st) == nil && st.CEID == ceID {
			o := st.Outcome
			if st.Registry != "" {
				o = st.Registry + ":" + o
			}
			got = append(got, o)
		}
	}
	for deadline := time.Now().Add(time.Minute); len(got) < n && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(collect)
	}
	// One more read, so that a status beyond the n expected shows.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl.PollFetches(ctx).EachRecord(collect)
	sort.Strings(got)
	return got
}
