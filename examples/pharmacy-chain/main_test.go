package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/stack"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestChainWatchesDispensesAndReadsItsAnswer runs the example against
// `egisz-gateway dev`, as a chain's developer would: an MIS issues two
// prescriptions, one in the chain's region; the chain sees that one only,
// dispenses it in full and is told it was accepted; another chain's
// dispensation is refused, with the reason; the chain sees the new state.
func TestChainWatchesDispensesAndReadsItsAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway")
	}
	broker := stack.StartDev(t, "../../cmd/egisz-gateway")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The MIS issues two prescriptions: region 77, then region 42.
	mis, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer mis.Close()
	for _, p := range []struct{ number, region string }{{"000777", "77"}, {"000042", "42"}} {
		var m map[string]any
		_ = json.Unmarshal(topics.Example("prescription.json"), &m)
		m["number"], m["region_code"], m["valid_until"] = p.number, p.region, time.Now().AddDate(0, 1, 0).Format("2006-01-02")
		m["issued_at"] = time.Now().Add(-time.Hour).Format(time.RFC3339)
		b, _ := json.Marshal(m)
		r := &kgo.Record{Topic: topics.RMISPrescription, Key: []byte("11223344595"), Value: b, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("rx-" + p.number)},
			{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.prescription.v1")},
		}}
		if err := mis.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	chain := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append(args[:1:1], append([]string{"--brokers", broker}, args[1:]...)...), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	seen := chain("watch", "--chain", "zdorovye", "--region", "42", "--limit", "1")
	if !strings.Contains(seen, "42-24/000042 issued, 2 упаковка left (Амоксициллин") || strings.Contains(seen, "000777") {
		t.Errorf("watch, region 42:\n%s", seen)
	}
	got := chain("dispense", "--chain", "zdorovye", "--pharmacy", "zdorovye-0142", "--rx", "42-24/000042", "--qty", "2",
		"--patient", "112-233-445 95", "--family-name", "Иванова", "--given-name", "Мария", "--birth-date", "1985-03-21", "--sex", "female", "--id", "APT-1")
	if !strings.Contains(got, "dispensation APT-1: accepted") {
		t.Errorf("dispense:\n%s", got)
	}
	got = chain("dispense", "--chain", "aptekaplus", "--pharmacy", "ap-7", "--rx", "42-24/000042", "--qty", "2",
		"--patient", "112-233-445 95", "--family-name", "Иванова", "--given-name", "Мария", "--birth-date", "1985-03-21", "--sex", "female", "--id", "AP-1")
	if !strings.Contains(got, "dispensation AP-1: rejected") || !strings.Contains(got, `RX_ALREADY_DISPENSED at "prescription_number": Рецепт уже полностью отпущен`) {
		t.Errorf("the other chain's dispense:\n%s", got)
	}
	seen = chain("watch", "--chain", "zdorovye", "--region", "42", "--limit", "1")
	if !strings.Contains(seen, "42-24/000042 dispensed, 0 упаковка left") {
		t.Errorf("watch after dispensing (the group goes on where it left):\n%s", seen)
	}
}
