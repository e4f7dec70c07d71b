package recsize_test

import (
	"crypto/rand"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// TestBatchAgreesWithTheBrokerAndTheProducer writes records of batch size
// limit-1, limit and limit+1 (recsize.Batch) to a topic of that
// max.message.bytes, uncompressed, once through a producer told the
// topic's limit (ProducerLimit) and once through one that lets the broker
// decide: both must take the first two and refuse the third.
func TestBatchAgreesWithTheBrokerAndTheProducer(t *testing.T) {
	const limit = 30_000
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	adm := kc.Admin(t)
	topic := kc.Name("sized")
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"max.message.bytes": kadm.StringPtr(strconv.Itoa(limit))}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), topic)
		if err == nil && d.Error() == nil && len(d[topic].Partitions) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("topic never got a leader")
		}
	}
	for _, producer := range []struct {
		name string
		opt  kgo.Opt
	}{
		{"producer told the limit", kgo.ProducerBatchMaxBytes(recsize.ProducerLimit(limit))},
		{"broker decides", kgo.ProducerBatchMaxBytes(4 * limit)},
	} {
		cl := kc.Client(t, producer.opt, kgo.ProducerBatchCompression(kgo.NoCompression()))
		for _, size := range []int{limit - 1, limit, limit + 1} {
			r := record(topic, size)
			if got := recsize.Batch(r); got != size {
				t.Fatalf("record built for %d measures %d", size, got)
			}
			err := cl.ProduceSync(ctx, r).FirstErr()
			switch {
			case size <= limit && err != nil:
				t.Errorf("%s: a batch of %d bytes refused by a topic of %d: %v", producer.name, size, limit, err)
			case size > limit && !errors.Is(err, kerr.MessageTooLarge):
				t.Errorf("%s: a batch of %d bytes for a topic of %d: %v, want MESSAGE_TOO_LARGE", producer.name, size, limit, err)
			}
		}
	}
}

func record(topic string, size int) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte("11223344595"), Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("id-1")}, {Key: "ce_type", Value: []byte("t")}}}
	for i := 0; i < 8 && recsize.Batch(r) != size; i++ {
		r.Value = make([]byte, max(0, len(r.Value)+size-recsize.Batch(r)))
		_, _ = rand.Read(r.Value)
	}
	return r
}

func TestFits(t *testing.T) {
	r := record("t", 1000)
	for _, tc := range []struct {
		limit int
		want  bool
	}{{0, true}, {-1, true}, {999, false}, {1000, true}, {1001, true}} {
		if got := recsize.Fits(r, tc.limit); got != tc.want {
			t.Errorf("Fits(1000-byte batch, %d) = %v, want %v", tc.limit, got, tc.want)
		}
	}
}
