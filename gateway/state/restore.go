package state

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
)

// idleEnd is how long a restore waits for more records before it takes the
// partition as read to its end.
const idleEnd = 3 * time.Second

// Progress is told how a restore goes: keys applied so far and whether it is done.
type Progress func(partition int32, applied int64, done bool, took time.Duration)

// CatchUp reads the store's changelog partition from store.Next up to its
// last stable offset (read_committed) and applies every record, so the
// store holds what the committed transactions wrote. A fresh store reads
// the whole partition; a store kept across a rebalance reads only what
// another owner wrote meanwhile.
func CatchUp(ctx context.Context, opts []kgo.Opt, topic string, s *Store, progress Progress) error {
	start := time.Now()
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("restore %s/%d: %w", topic, s.Partition, err)
	}
	defer adm.Close()
	end, err := stableEnd(ctx, kadm.NewClient(adm), topic, s.Partition)
	if err != nil {
		return fmt.Errorf("restore %s/%d: %w", topic, s.Partition, err)
	}
	if s.Next >= end.Offset {
		progress(s.Partition, 0, true, time.Since(start))
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {s.Partition: kgo.NewOffset().At(s.Next)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back too, so the offsets we see always
		// reach the end offset even when the partition ends with one.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(64<<20),
	)...)
	if err != nil {
		return fmt.Errorf("restore %s/%d: %w", topic, s.Partition, err)
	}
	defer cl.Close()
	var applied int64
	lastReport := time.Now()
	for s.Next < end.Offset {
		pctx, cancel := context.WithTimeout(ctx, idleEnd)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("restore %s/%d: %w", topic, s.Partition, err)
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			// Nothing readable is left below the end offset: what remains
			// is aborted records whose marker lies beyond it.
			s.Next = end.Offset
			break
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("restore %s/%d: fetch: %w", topic, s.Partition, ferr)
		}
		var applyErr error
		fs.EachRecord(func(r *kgo.Record) {
			s.Next = r.Offset + 1
			if r.Attrs.IsControl() || applyErr != nil {
				return
			}
			applyErr = s.Apply(r.Key, r.Value)
			applied++
		})
		if applyErr != nil {
			return fmt.Errorf("restore %s/%d: %w", topic, s.Partition, applyErr)
		}
		if time.Since(lastReport) > 2*time.Second {
			progress(s.Partition, applied, false, time.Since(start))
			lastReport = time.Now()
		}
	}
	progress(s.Partition, applied, true, time.Since(start))
	return nil
}

// settleWait bounds how long a restore waits for the previous owner's last
// transaction on the partition to be marked: longer than the stages'
// transaction timeout (20 s), after which the coordinator aborts it.
const settleWait = 30 * time.Second

// stableEnd is the partition's last stable offset once no transaction is
// open on it (the LSO has reached the high watermark). The previous owner
// may have committed its last batch a moment ago: EndTxn answers before
// the commit markers are written, and until they are, the LSO stops short
// of that batch. A restore that ended there would miss its state writes
// (a confirmed identity, a prescription) while the consumer, whose offset
// fetch waits for stable offsets, goes on after the batch: the state
// would lack what the batch wrote for good.
func stableEnd(ctx context.Context, adm *kadm.Client, topic string, p int32) (kadm.ListedOffset, error) {
	deadline := time.Now().Add(settleWait)
	for {
		stable, err := kafkaclient.EndOffsets(ctx, adm, true, topic)
		if err != nil {
			return kadm.ListedOffset{}, fmt.Errorf("list last stable offsets: %w", err)
		}
		hw, err := kafkaclient.EndOffsets(ctx, adm, false, topic)
		if err != nil {
			return kadm.ListedOffset{}, fmt.Errorf("list high watermarks: %w", err)
		}
		end, ok := stable.Lookup(topic, p)
		high, ok2 := hw.Lookup(topic, p)
		if !ok || !ok2 {
			return kadm.ListedOffset{}, fmt.Errorf("no end offset of partition %d", p)
		}
		if end.Offset >= high.Offset || time.Now().After(deadline) {
			return end, nil
		}
		select {
		case <-ctx.Done():
			return kadm.ListedOffset{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
