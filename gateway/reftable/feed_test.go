package reftable

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestFeedChangesAreCountedAndLogged: a table over a feed counts what the
// feed did to it (set, deleted, skipped) and its size; once loaded, a
// fetch that deletes or skips records is logged with counts, and no key
// (a ФРМР key is a person's СНИЛС) appears in the log.
func TestFeedChangesAreCountedAndLogged(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	topic := kc.Name("feed")
	if _, err := kc.Admin(t).CreateTopic(ctx, 2, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl := kc.Client(t, kgo.DefaultProduceTopic(topic))
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("1122334459%d", i)) }
	var initial []*kgo.Record
	for i := 0; i < 10; i++ {
		initial = append(initial, &kgo.Record{Key: key(i), Value: []byte("v")})
	}
	initial = append(initial, &kgo.Record{Key: []byte("x"), Value: []byte("bad")})
	produce(initial...)

	var log testtool.Buffer
	tb := New("frmr", topic, func(key, value []byte, _ map[string]string) (string, string, bool) {
		if string(value) == "bad" {
			return "", "", false
		}
		return string(key), string(value), true
	}, slog.New(slog.NewTextHandler(&log, nil))).LogChanges()
	reg := prometheus.NewRegistry()
	reg.MustRegister(tb.Collector())
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tb.Run(rctx, []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-tb.Loaded():
	case <-ctx.Done():
		t.Fatal("the table never loaded")
	}
	if strings.Contains(log.String(), "deleted (tombstones") {
		t.Errorf("a load without deletions logged one:\n%s", log.String())
	}

	// Six tombstones and a bad record after the load.
	var later []*kgo.Record
	for i := 0; i < 6; i++ {
		later = append(later, &kgo.Record{Key: key(i)})
	}
	later = append(later, &kgo.Record{Key: []byte("y"), Value: []byte("bad")})
	produce(later...)
	for tb.Len() != 4 || tb.Skipped() != 2 {
		if ctx.Err() != nil {
			t.Fatalf("the table holds %d keys and skipped %d, want 4 and 2", tb.Len(), tb.Skipped())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		change string
		want   float64
	}{{"set", 10}, {"deleted", 6}, {"skipped", 2}} {
		if got := changes(t, reg, tc.change); got != tc.want {
			t.Errorf("egisz_reference_changes_total{change=%q} = %v, want %v", tc.change, got, tc.want)
		}
	}
	out := log.String()
	for _, want := range []string{"reference records deleted", "keys_left=4", "reference records skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1122334459") {
		t.Errorf("the log names a key:\n%s", out)
	}
}

// changes reads egisz_reference_changes_total{change} from reg.
func changes(t *testing.T, reg *prometheus.Registry, change string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "egisz_reference_changes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "change" && l.GetValue() == change {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no egisz_reference_changes_total{change=%q}", change)
	return 0
}

// TestOnlyFeedsLogTheirLosses: the gateway's own tables (РЭМД's pending
// documents) delete settled entries as a matter of course and stay quiet;
// a reference feed's deletions are logged once it is loaded.
func TestOnlyFeedsLogTheirLosses(t *testing.T) {
	for _, tc := range []struct {
		name         string
		feed, loaded bool
		want         bool
	}{
		{"a feed, loaded", true, true, true},
		{"a feed, loading", true, false, false},
		{"the gateway's own table", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log testtool.Buffer
			tb := New("t", "topic", func(k, v []byte, _ map[string]string) (string, string, bool) { return string(k), string(v), true },
				slog.New(slog.NewTextHandler(&log, nil)))
			if tc.feed {
				tb.LogChanges()
			}
			if tc.loaded {
				tb.markLoaded()
			}
			tb.report(3, 1)
			if got := strings.Contains(log.String(), "reference records deleted"); got != tc.want {
				t.Errorf("logged %v, want %v:\n%s", got, tc.want, log.String())
			}
		})
	}
}
