package kafkatest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Pipeline is raw franz-go doing the Kafka work of a chain of exactly-once
// stages: each hop is franz-go's documented GroupTransactSession loop, and
// for every record it reads it writes, on average, Out[topic] records to
// each topic, in the same transaction as the consumed offsets. A hop reads
// what an earlier hop writes, so the chain has the shape of the gateway's
// (ingress, normalize, outbound, forward), and the same records read and
// written per event, without any of the gateway's own work. A plain
// read-committed reader reads the Read topics to their end, as a consumer
// of the status topic does.
type Pipeline struct {
	Brokers []string
	// Prefix names the pipeline's groups and transactional ids; topics
	// are named by the hops, in full.
	Prefix string
	// Partitions of every topic created for the run (default 6).
	Partitions int32
	// Hops in order: the first reads the input; every later one reads a
	// topic an earlier hop writes.
	Hops []Hop
	// Read are topics hops write that a reader reads to their end.
	Read []string
	// ClientOpts go to every client of the pipeline: the gateway's own
	// tuning, so that both do the same work the same way.
	ClientOpts []kgo.Opt
}

// Hop is one transactional consume-and-produce loop of a Pipeline.
type Hop struct {
	Name string
	In   string
	// Out is records written to each topic per record read: 1.5 writes one
	// record for every record read and a second one for every other.
	Out map[string]float64
}

// Feed is the input of a pipeline run: N records of Size bytes, produced
// at Rate a second, or as fast as the producer can when Rate is 0.
type Feed struct {
	N    int
	Size int
	// Values, when set, are the records' values in turn (Size is then
	// unused): the bytes a gateway was fed, which compress as they did. A
	// value of Size zero bytes compresses to almost nothing, and the broker
	// then stores, validates and serves far fewer bytes than for events.
	Values [][]byte
	Rate   float64
	// Warm is how long the feed runs before its records are timed: the
	// first transactions of new topics and groups are slow, and a latency
	// run wants the steady state. Every record is still waited for.
	Warm time.Duration
}

// PipelineResult is what a run measured.
type PipelineResult struct {
	// Took is from the first input produced until every hop has committed
	// every record it had to read and the reader has read every record of
	// the Read topics.
	Took time.Duration
	// Latency is, by the hop that wrote it, how long each record read from
	// a Read topic took from the produce of the input record it came from
	// until the reader saw it; records fed in Feed.Warm are left out.
	Latency map[string][]time.Duration
	// Written is how many records the hops wrote in all.
	Written int
	// Phases are where each hop's transactions spent their time, by hop.
	Phases map[string]Phases
}

const (
	headerIndex = "raw_i"   // the record's index in its topic's sequence
	headerHop   = "raw_hop" // the hop that wrote the record
)

// fanout is how many records input index i writes at ratio r, and the
// index of the first: every index below floor(n*r) is written exactly once
// over inputs 0..n-1, so the hop reading them knows how many to wait for.
func fanout(i int64, r float64) (first, count int64) {
	lo, hi := int64(math.Floor(float64(i)*r)), int64(math.Floor(float64(i+1)*r))
	return lo, hi - lo
}

// Check says whether the pipeline's shape runs: every hop after the first
// reads a topic one earlier hop writes, and every Read topic is written.
func (p Pipeline) Check() error {
	_, _, err := p.expected(0)
	return err
}

// expected is how many records each hop reads and each Read topic holds
// after n inputs.
func (p Pipeline) expected(n int) (reads []int64, topicTotal map[string]int64, err error) {
	if len(p.Hops) == 0 {
		return nil, nil, errors.New("pipeline without hops")
	}
	readBy := map[string]int{}
	for h, hop := range p.Hops {
		readBy[hop.In] = h
	}
	writtenBy := map[string]int{} // topic -> the (last) hop writing it
	topicTotal = map[string]int64{}
	reads = make([]int64, len(p.Hops))
	for h, hop := range p.Hops {
		if h == 0 {
			reads[h] = int64(n)
		} else {
			w, ok := writtenBy[hop.In]
			if !ok {
				return nil, nil, fmt.Errorf("hop %s reads %s, which no earlier hop writes", hop.Name, hop.In)
			}
			reads[h] = int64(math.Floor(float64(reads[w]) * p.Hops[w].Out[hop.In]))
		}
		for _, t := range slices.Sorted(maps.Keys(hop.Out)) {
			if hop.Out[t] < 0 {
				return nil, nil, fmt.Errorf("hop %s writes %v records to %s per record", hop.Name, hop.Out[t], t)
			}
			// A hop counts what it reads by index: a topic a hop reads has
			// one writer, before it. Terminal topics (status) may have many.
			if r, read := readBy[t]; read {
				if w, ok := writtenBy[t]; ok {
					return nil, nil, fmt.Errorf("hops %s and %s both write %s, which hop %s reads", p.Hops[w].Name, hop.Name, t, p.Hops[r].Name)
				}
				if r <= h {
					return nil, nil, fmt.Errorf("hop %s writes %s, which hop %s before it reads", hop.Name, t, p.Hops[r].Name)
				}
			}
			topicTotal[t] += int64(math.Floor(float64(reads[h]) * hop.Out[t]))
			writtenBy[t] = h
		}
	}
	for _, t := range p.Read {
		if _, ok := writtenBy[t]; !ok {
			return nil, nil, fmt.Errorf("read %s: no hop writes it", t)
		}
	}
	return reads, topicTotal, nil
}

// Run creates the pipeline's topics, starts every hop and the reader,
// waits until each hop's group has its partitions, then feeds the input
// and waits until every record is through.
func (p Pipeline) Run(ctx context.Context, feed Feed) (PipelineResult, error) {
	var res PipelineResult
	if p.Partitions <= 0 {
		p.Partitions = 6
	}
	reads, totals, err := p.expected(feed.N)
	if err != nil {
		return res, fmt.Errorf("raw pipeline: %w", err)
	}
	cl, err := kgo.NewClient(p.opts(kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000))...)
	if err != nil {
		return res, fmt.Errorf("raw pipeline: %w", err)
	}
	defer cl.Close()
	if err := p.createTopics(ctx, kadm.NewClient(cl)); err != nil {
		return res, fmt.Errorf("raw pipeline: %w", err)
	}
	// The first failure ends the run with its error, instead of a wait
	// for records that will never come.
	outer := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	failed := func(what string) error {
		if outer.Err() != nil {
			return fmt.Errorf("raw pipeline: %s: %w", what, outer.Err())
		}
		return fmt.Errorf("raw pipeline: %s: %w", what, context.Cause(ctx))
	}

	var (
		joined  sync.WaitGroup
		done    sync.WaitGroup
		written atomic.Int64
		phases  = make([]Phases, len(p.Hops)) // each written by its hop's goroutine alone
	)
	for h, hop := range p.Hops {
		joined.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if err := p.runHop(ctx, hop, reads[h], joined.Done, &written, &phases[h]); err != nil {
				cancel(fmt.Errorf("hop %s: %w", hop.Name, err))
			}
		}()
	}
	var readTotal int64
	for _, t := range p.Read {
		readTotal += totals[t]
	}
	rd, err := kgo.NewClient(p.opts(kgo.ConsumeTopics(p.Read...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return res, fmt.Errorf("raw pipeline: reader: %w", err)
	}
	defer rd.Close()

	// The groups' joins are not the pipeline's work: the gateway's figures
	// beside it are taken from stages that have joined.
	select {
	case <-closed(&joined):
	case <-ctx.Done():
		return res, failed("waiting for the hops to join")
	}

	start := time.Now()
	began := make(chan time.Time, 1)
	go p.produce(ctx, cl, feed, began, cancel)
	// The warm-up runs from the feed's own start: a feed goroutine
	// scheduled late on a busy machine would otherwise have its warm-up
	// records timed.
	var timedFrom time.Time
	select {
	case at := <-began:
		timedFrom = at.Add(feed.Warm)
	case <-ctx.Done():
		return res, failed("waiting for the feed to start")
	}
	res.Latency = map[string][]time.Duration{}
	for n := int64(0); n < readTotal; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return res, failed(fmt.Sprintf("%d of %d records read", n, readTotal))
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			n++
			hop := ""
			for _, h := range r.Headers {
				if h.Key == headerHop {
					hop = string(h.Value)
				}
			}
			if !r.Timestamp.Before(timedFrom) {
				res.Latency[hop] = append(res.Latency[hop], now.Sub(r.Timestamp))
			}
		})
	}
	select {
	case <-closed(&done):
	case <-ctx.Done():
	}
	if context.Cause(ctx) != nil {
		return res, failed("hops")
	}
	res.Took = time.Since(start)
	res.Written = int(written.Load())
	res.Phases = map[string]Phases{}
	for h, hop := range p.Hops {
		res.Phases[hop.Name] = phases[h]
	}
	return res, nil
}

// closed is closed once wg is done.
func closed(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

// opts are a client's options: the brokers, ClientOpts, then more.
func (p Pipeline) opts(more ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt{kgo.SeedBrokers(p.Brokers...)}, p.ClientOpts...), more...)
}

// createTopics creates the input and every topic a hop writes.
func (p Pipeline) createTopics(ctx context.Context, adm *kadm.Client) error {
	set := map[string]bool{p.Hops[0].In: true}
	for _, h := range p.Hops {
		for t := range h.Out {
			set[t] = true
		}
	}
	names := slices.Sorted(maps.Keys(set))
	resp, err := adm.CreateTopics(ctx, p.Partitions, -1, nil, names...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", r.Topic, r.Err)
		}
	}
	return topics.WaitUsable(ctx, adm, names...)
}

// produce writes the feed to the first hop's input, keyed over 50,000
// keys as the load generator's patients are, each with its index; it
// sends on began when it starts, before its first record.
func (p Pipeline) produce(ctx context.Context, cl *kgo.Client, feed Feed, began chan<- time.Time, fail context.CancelCauseFunc) {
	zeros := make([]byte, feed.Size)
	var interval time.Duration
	if feed.Rate > 0 {
		interval = time.Duration(float64(time.Second) / feed.Rate)
	}
	next := time.Now()
	began <- next
	in := p.Hops[0].In
	for i := range feed.N {
		if interval > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(interval)
		}
		r := &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "%d", i%50_000), Value: feed.value(i, zeros), Timestamp: time.Now(),
			Headers: []kgo.RecordHeader{{Key: headerIndex, Value: binary.BigEndian.AppendUint64(nil, uint64(i))}}}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("produce to %s: %w", in, err))
			}
		})
		if ctx.Err() != nil {
			return
		}
	}
}

// value is record i's value: Values in turn, or zeros.
func (f Feed) value(i int, zeros []byte) []byte {
	if len(f.Values) == 0 {
		return zeros
	}
	return f.Values[i%len(f.Values)]
}

// runHop runs one hop until it has committed want records read, calling
// joined once it has its producer id and its group has assigned it partitions.
func (p Pipeline) runHop(ctx context.Context, hop Hop, want int64, joined func(), written *atomic.Int64, ph *Phases) error {
	var once, assignOnce sync.Once
	assigned := make(chan struct{})
	group := p.Prefix + hop.Name
	sess, err := kgo.NewGroupTransactSession(p.opts(
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(hop.In),
		kgo.TransactionalID(group+"-1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { assignOnce.Do(func() { close(assigned) }) }),
	)...)
	if err != nil {
		once.Do(joined)
		return err
	}
	defer sess.Close()
	defer once.Do(joined) // never leave the run waiting on a hop that failed
	// The producer id comes before the clock starts, as a gateway stage
	// takes its own before it reads: finding the transaction coordinator
	// and initializing the id take hundreds of milliseconds on a new id.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("initialize transactional producer: %w", err)
	}
	select {
	case <-assigned:
		once.Do(joined)
	case <-ctx.Done():
		return fmt.Errorf("join group %s: %w", group, ctx.Err())
	}
	outs := slices.Sorted(maps.Keys(hop.Out))
	name := []byte(hop.Name)
	for read := int64(0); read < want; {
		fs := sess.PollRecords(ctx, 5000)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d of %d read: %w", read, want, err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		committed, n, err := transact(ctx, sess, fs, func(r *kgo.Record, emit func(*kgo.Record)) {
			i, ok := index(r)
			if !ok {
				return
			}
			for _, t := range outs {
				first, count := fanout(i, hop.Out[t])
				for j := range count {
					// The input's timestamp goes along, so that the reader
					// can tell how long a record took from its first produce.
					emit(&kgo.Record{Topic: t, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
						Headers: []kgo.RecordHeader{
							{Key: headerIndex, Value: binary.BigEndian.AppendUint64(nil, uint64(first+j))},
							{Key: headerHop, Value: name},
						}})
				}
			}
		}, ph)
		if err != nil {
			return err
		}
		if committed {
			read += int64(fs.NumRecords())
			written.Add(n)
		}
	}
	return nil
}

// index is a pipeline record's index in its topic.
func index(r *kgo.Record) (int64, bool) {
	for _, h := range r.Headers {
		if h.Key == headerIndex && len(h.Value) == 8 {
			return int64(binary.BigEndian.Uint64(h.Value)), true
		}
	}
	return 0, false
}
