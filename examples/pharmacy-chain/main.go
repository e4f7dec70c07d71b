// Command pharmacy-chain is an example for a pharmacy chain's developers
// to copy: it reads the prescriptions the chain may dispense from
// egisz.pharmacy.prescription.v1, publishes a dispensation to
// egisz.pharmacy.dispense.v1, and reads the gateway's answer back from
// egisz.status.v1. It needs only franz-go; the contract it follows is
// docs/asyncapi.yaml.
//
//	go run ./examples/pharmacy-chain watch --chain zdorovye --region 42
//	go run ./examples/pharmacy-chain dispense --chain zdorovye --pharmacy zdorovye-0142 \
//	    --rx 42-24/000731 --qty 1 --unit упаковка --id APT-0009931 \
//	    --patient "112-233-445 95" --family-name Иванова --given-name Мария --birth-date 1985-03-21 --sex female
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics and headers of the contract.
const (
	prescriptionsTopic = "egisz.pharmacy.prescription.v1"
	dispenseTopic      = "egisz.pharmacy.dispense.v1"
	statusTopic        = "egisz.status.v1"
	headerRegion       = "ce_region"
	headerChain        = "ce_pharmacychain"
	headerState        = "ce_rxstate"
)

// change is what the chain reads of a prescription's new state; the
// record holds more (docs/asyncapi.yaml).
type change struct {
	Series     string   `json:"series"`
	Number     string   `json:"number"`
	State      string   `json:"state"`
	Remaining  quantity `json:"remaining"`
	Prescribed *struct {
		Drug       struct{ Name string } `json:"drug"`
		ValidUntil string                `json:"valid_until"`
	} `json:"prescription"`
}

type quantity struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// dispensation is the event the chain publishes.
type dispensation struct {
	DispensationID     string   `json:"dispensation_id"`
	PrescriptionNumber string   `json:"prescription_number"`
	PrescriptionSeries string   `json:"prescription_series"`
	PharmacyChain      string   `json:"pharmacy_chain"`
	PharmacyID         string   `json:"pharmacy_id"`
	Quantity           quantity `json:"quantity"`
	DispensedAt        string   `json:"dispensed_at"`
	Patient            patient  `json:"patient"`
}

// patient is who the medicine is for, as the prescription names them (the
// issued change carries the prescription with its patient).
type patient struct {
	SNILS      string `json:"snils"`
	FamilyName string `json:"family_name"`
	GivenName  string `json:"given_name"`
	Patronymic string `json:"patronymic,omitempty"`
	BirthDate  string `json:"birth_date"`
	Sex        string `json:"sex"`
}

// status is the gateway's answer to one event.
type status struct {
	CEID     string `json:"ce_id"`
	Outcome  string `json:"outcome"`
	Registry string `json:"registry"` // set on the registry's later answer
	Reasons  []struct {
		Code      string `json:"code"`
		Field     string `json:"field"`
		MessageRU string `json:"message_ru"`
		MessageEN string `json:"message_en"`
	} `json:"reasons"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pharmacy-chain:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "watch" && args[0] != "dispense") {
		return errors.New("usage: pharmacy-chain watch|dispense [flags]; -h for the flags")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma-separated")
	prefix := fs.String("topic-prefix", "", "the deployment's topic prefix, if any")
	chain := fs.String("chain", "", "the chain's id (required)")
	regions := fs.String("region", "", "watch: the region codes the chain serves, comma-separated")
	limit := fs.Int("limit", 0, "watch: stop after this many changes (0: run until Ctrl-C)")
	pharmacy := fs.String("pharmacy", "", "dispense: the pharmacy's id within the chain")
	rx := fs.String("rx", "", "dispense: the prescription, series/number")
	qty := fs.Float64("qty", 1, "dispense: quantity")
	unit := fs.String("unit", "упаковка", "dispense: unit, as prescribed")
	var pt patient
	fs.StringVar(&pt.SNILS, "patient", "", "dispense: the patient's СНИЛС, as on the prescription")
	fs.StringVar(&pt.FamilyName, "family-name", "", "dispense: the patient's family name")
	fs.StringVar(&pt.GivenName, "given-name", "", "dispense: the patient's given name")
	fs.StringVar(&pt.Patronymic, "patronymic", "", "dispense: the patient's patronymic, if any")
	fs.StringVar(&pt.BirthDate, "birth-date", "", "dispense: the patient's birth date, YYYY-MM-DD")
	fs.StringVar(&pt.Sex, "sex", "", "dispense: male or female")
	id := fs.String("id", "", "dispense: the chain's id of this dispensation (its business id; resend it unchanged to retry)")
	wait := fs.Duration("wait", 30*time.Second, "dispense: how long to wait for the answer")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *chain == "" {
		return errors.New("--chain is required")
	}
	if args[0] == "watch" {
		return watch(ctx, *brokers, *prefix, *chain, strings.Split(*regions, ","), *limit, out)
	}
	series, number, ok := strings.Cut(*rx, "/")
	if !ok || *pharmacy == "" || pt.SNILS == "" || *id == "" {
		return errors.New("dispense needs --rx series/number, --pharmacy, --patient (and the patient's names, birth date and sex) and --id")
	}
	d := dispensation{
		DispensationID: *id, PrescriptionSeries: series, PrescriptionNumber: number,
		PharmacyChain: *chain, PharmacyID: *pharmacy, Quantity: quantity{*qty, *unit},
		DispensedAt: time.Now().Format(time.RFC3339), Patient: pt,
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	st, err := dispense(wctx, strings.Split(*brokers, ","), *prefix, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dispensation %s: %s\n", d.DispensationID, st.Outcome)
	for _, r := range st.Reasons {
		fmt.Fprintf(out, "  %s at %q: %s / %s\n", r.Code, r.Field, r.MessageRU, r.MessageEN)
	}
	return nil
}

// watch prints the changes of the prescriptions the chain may dispense:
// those of its regions and those its own dispensations made. It selects
// by headers, so records of other regions are never decoded. It reads as
// the consumer group pharmacy-<chain>, so a restart goes on where it left.
func watch(ctx context.Context, brokers, prefix, chain string, regions []string, limit int, out io.Writer) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumerGroup(prefix+"pharmacy-"+chain),
		kgo.ConsumeTopics(prefix+prescriptionsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // the gateway writes in transactions
		kgo.AutoCommitMarks(),                        // commit only what was handled, so a restart misses nothing
	)
	if err != nil {
		return err
	}
	defer func() {
		// Commit what was handled before leaving; the periodic commit
		// may not have run yet.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cl.CommitMarkedOffsets(cctx)
		cl.Close()
	}()
	seen := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil {
			return err
		}
		for _, r := range fs.Records() {
			cl.MarkCommitRecords(r)
			if !slices.Contains(regions, header(r, headerRegion)) && header(r, headerChain) != chain {
				continue
			}
			var c change
			if err := json.Unmarshal(r.Value, &c); err != nil {
				fmt.Fprintf(os.Stderr, "pharmacy-chain: %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
				continue
			}
			line := fmt.Sprintf("%s/%s %s, %g %s left", c.Series, c.Number, c.State, c.Remaining.Value, c.Remaining.Unit)
			if c.Prescribed != nil {
				line += fmt.Sprintf(" (%s, valid until %s)", c.Prescribed.Drug.Name, c.Prescribed.ValidUntil)
			}
			fmt.Fprintln(out, line)
			if seen++; limit > 0 && seen >= limit {
				return nil
			}
		}
	}
}

// dispense publishes a dispensation and waits for its status. It notes
// where the status topic ends before publishing, so the answer cannot be
// missed however fast it comes.
func dispense(ctx context.Context, brokers []string, prefix string, d dispensation) (status, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return status{}, err
	}
	defer cl.Close()
	key := strings.NewReplacer("-", "", " ", "").Replace(d.Patient.SNILS) // the patient key: 11 digits
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, prefix+statusTopic)
	if err != nil {
		return status{}, fmt.Errorf("status topic: %w", err)
	}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })

	ceID := newID()
	body, _ := json.Marshal(d)
	rec := &kgo.Record{Topic: prefix + dispenseTopic, Key: []byte(key), Value: body, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte(d.PharmacyChain)},
		{Key: "ce_type", Value: []byte("ru.egisz.pharmacy.dispense.v1")},
		{Key: "ce_time", Value: []byte(d.DispensedAt)},
		{Key: "content-type", Value: []byte("application/json")},
	}}
	// The default partitioner hashes the key with murmur2, as the gateway's
	// state expects.
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return status{}, fmt.Errorf("publish: %w", err)
	}
	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{prefix + statusTopic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return status{}, err
	}
	defer reader.Close()
	for {
		fs := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return status{}, fmt.Errorf("no answer for %s: %w", ceID, err)
		}
		for _, r := range fs.Records() {
			var st status
			// The normalize stage's answer names no registry; the
			// prescription registry's comes later under the same ce_id.
			if header(r, "ce_id") == ceID && json.Unmarshal(r.Value, &st) == nil && st.Registry == "" {
				return st, nil
			}
		}
	}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// newID is a random RFC 4122 UUID, the event's ce_id.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
