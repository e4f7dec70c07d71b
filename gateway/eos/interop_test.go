package eos_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// sourceRecord is what an RMIS vendor's client publishes.
type sourceRecord struct {
	key     string
	value   string
	headers [][2]string
}

func cloudEvent(i int) sourceRecord {
	return sourceRecord{
		key:   fmt.Sprintf("1122334459%d", i),
		value: fmt.Sprintf(`{"case_id":{"root":"1.2.643.5.1.13.13.12.1.42.202.100.1.1.15","extension":"TAP-%d"},"patient":{"family_name":"Иванова","given_name":"Мария"}}`, i),
		headers: [][2]string{
			{"ce_specversion", "1.0"},
			{"ce_id", fmt.Sprintf("evt-%d-ёжик", i)},
			{"ce_source", "1.2.643.5.1.13.13.12.1.42.202"},
			{"ce_type", "ru.egisz.rmis.case.v1"},
			{"content-type", "application/json"},
			{"traceparent", fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e47%02d-00f067aa0ba902b7-01", i)},
		},
	}
}

// capture records what the gateway's consumer saw and writes it on, as the
// gateway does, keeping key, value and headers.
type capture struct {
	mu   sync.Mutex
	seen []*kgo.Record
	to   string
}

func (c *capture) Transform(_ context.Context, in *kgo.Record, out *eos.Output) error {
	c.mu.Lock()
	c.seen = append(c.seen, in)
	c.mu.Unlock()
	out.Emit(&kgo.Record{Topic: c.to, Key: in.Key, Value: in.Value, Headers: in.Headers})
	return nil
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// runCapture consumes topic with the gateway's stage until want records arrived.
func runCapture(t *testing.T, ctx context.Context, kc *kafkatest.Cluster, in, out string, want int) *capture {
	t.Helper()
	c := &capture{to: out}
	s, err := eos.New(eos.Config{
		Name: "interop", Group: kc.Name("interop-" + in), Input: []string{in}, TransactionalID: kc.Name("interop-" + in),
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Log: quietLog(),
	}, c)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	for c.count() < want || s.Stats.In.Load() < int64(want) {
		if ctx.Err() != nil {
			t.Fatalf("the gateway's consumer saw %d of %d records", c.count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return c
}

// checkExact asserts the consumer saw each source record exactly as written,
// on the partition a Java or franz-go producer would have chosen for its key.
func checkExact(t *testing.T, got []*kgo.Record, want []sourceRecord, partitions int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	part := kgo.StickyKeyPartitioner(nil).ForTopic("")
	for _, w := range want {
		r := byKey[w.key]
		if r == nil {
			t.Errorf("key %s not seen", w.key)
			continue
		}
		if string(r.Value) != w.value {
			t.Errorf("key %s: value %q, want %q", w.key, r.Value, w.value)
		}
		if len(r.Headers) != len(w.headers) {
			t.Errorf("key %s: %d headers, want %d: %v", w.key, len(r.Headers), len(w.headers), r.Headers)
			continue
		}
		for i, h := range w.headers {
			if r.Headers[i].Key != h[0] || string(r.Headers[i].Value) != h[1] {
				t.Errorf("key %s: header %d is %s=%q, want %s=%q", w.key, i, r.Headers[i].Key, r.Headers[i].Value, h[0], h[1])
			}
		}
		if p := part.Partition(&kgo.Record{Key: r.Key}, partitions); int32(p) != r.Partition {
			t.Errorf("key %s landed on partition %d; franz-go and Java put it on %d: the patient's events would part ways", w.key, r.Partition, p)
		}
	}
}

func TestKcatRecordsReadExactlyAndGatewayRecordsReadBackByKcat(t *testing.T) {
	kcat := testtool.Require(t, "kcat")
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	in, out := kc.Name("kcat-in"), kc.Name("kcat-out")
	createTopics(t, ctx, kc.Admin(t), 6, -1, in, out)

	var want []sourceRecord
	for i := 0; i < 5; i++ {
		rec := cloudEvent(i)
		want = append(want, rec)
		// murmur2_random is librdkafka's Java-compatible partitioner; its
		// default (consistent_random, CRC32) would put keys elsewhere.
		args := []string{"-b", strings.Join(kc.Brokers, ","), "-P", "-t", in, "-k", rec.key, "-X", "partitioner=murmur2_random"}
		for _, h := range rec.headers {
			args = append(args, "-H", h[0]+"="+h[1])
		}
		cmd := exec.CommandContext(ctx, kcat, args...)
		cmd.Stdin = strings.NewReader(rec.value + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
	}
	c := runCapture(t, ctx, kc, in, out, len(want))
	checkExact(t, c.seen, want, 6)

	// What the gateway wrote, read back by librdkafka.
	cmd := exec.CommandContext(ctx, kcat, "-b", strings.Join(kc.Brokers, ","), "-C", "-t", out, "-o", "beginning", "-e", "-J",
		"-X", "isolation.level=read_committed")
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v", err)
	}
	var back []*kgo.Record
	sc := bufio.NewScanner(bytes.NewReader(outb))
	for sc.Scan() {
		var m struct {
			Partition int32    `json:"partition"`
			Key       string   `json:"key"`
			Payload   string   `json:"payload"`
			Headers   []string `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		r := &kgo.Record{Key: []byte(m.Key), Value: []byte(m.Payload), Partition: m.Partition}
		for i := 0; i+1 < len(m.Headers); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: m.Headers[i], Value: []byte(m.Headers[i+1])})
		}
		back = append(back, r)
	}
	checkExact(t, back, want, 6)
}

func TestKafkaGoRecordsReadExactly(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	in, out := kc.Name("kgo-in"), kc.Name("kgo-out")
	createTopics(t, ctx, kc.Admin(t), 6, -1, in, out)

	w := &segkafka.Writer{
		Addr:  segkafka.TCP(kc.Brokers...),
		Topic: in,
		// kafka-go's default balancer is round-robin and ignores the key;
		// Murmur2Balancer matches Java and franz-go.
		Balancer:     &segkafka.Murmur2Balancer{},
		RequiredAcks: segkafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
	}
	defer w.Close()
	var want []sourceRecord
	var msgs []segkafka.Message
	for i := 0; i < 5; i++ {
		rec := cloudEvent(i)
		want = append(want, rec)
		m := segkafka.Message{Key: []byte(rec.key), Value: []byte(rec.value)}
		for _, h := range rec.headers {
			m.Headers = append(m.Headers, segkafka.Header{Key: h[0], Value: []byte(h[1])})
		}
		msgs = append(msgs, m)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	c := runCapture(t, ctx, kc, in, out, len(want))
	checkExact(t, c.seen, want, 6)
}
