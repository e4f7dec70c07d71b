package lag

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestLagAndBacklogs: a forward group that committed 4 of 10 records lags
// by 6, and a DLQ holding 3 records reports 3.
func TestLagAndBacklogs(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	cl := kc.Client(t)
	adm := kadm.NewClient(cl)
	cat := topics.Default().WithPrefix(kc.Prefix)
	if _, err := topics.Ensure(ctx, adm, cat, -1); err != nil {
		t.Fatal(err)
	}
	out := kc.Prefix + topics.Outbound(topics.RegistryIEMK)
	dlqTopic := kc.Prefix + topics.RegistryDLQ(topics.RegistryIEMK)
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: out, Partition: 0, Key: []byte("k"), Value: []byte("v")})
	}
	for i := 0; i < 3; i++ {
		recs = append(recs, &kgo.Record{Topic: dlqTopic, Key: []byte("k"), Value: []byte("v")})
	}
	producer := kc.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	group := kc.Prefix + topics.GroupForward(topics.RegistryIEMK)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: out, Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(adm, cat, Groups(kc.Prefix, topics.RetryTiers), slog.New(slog.NewTextHandler(io.Discard, nil))))
	want := `
# HELP egisz_lag_scrape_errors 1 when the last reading of lag or topic sizes failed (the cluster did not answer), else 0.
# TYPE egisz_lag_scrape_errors gauge
egisz_lag_scrape_errors 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "egisz_lag_scrape_errors"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "egisz_consumer_lag":
				if labels["group"] == group && labels["partition"] == "0" {
					got["lag"] = m.GetGauge().GetValue()
				}
			case "egisz_topic_records":
				got[labels["topic"]] = m.GetGauge().GetValue()
			}
		}
	}
	if got["lag"] != 6 {
		t.Errorf("lag of %s on partition 0 = %v, want 6", group, got["lag"])
	}
	if got[dlqTopic] != 3 {
		t.Errorf("%s holds %v, want 3", dlqTopic, got[dlqTopic])
	}
	if v, ok := got[kc.Prefix+topics.Retry(topics.RegistryIEMK, 30*time.Second)]; !ok || v != 0 {
		t.Errorf("the 30 s retry tier of ИЭМК: %v %v, want an empty backlog reported", v, ok)
	}
}
