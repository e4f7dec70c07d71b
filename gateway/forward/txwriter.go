package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
)

// txWriter writes groups of records atomically, one transaction for all
// the groups waiting at that moment (group commit): a callback's status,
// DLQ record and entry land together or not at all, and many callbacks
// share one commit.
type txWriter struct {
	cl  *kgo.Client
	log *slog.Logger
	in  chan txRequest
	// stopped is closed when run returns.
	stopped chan struct{}
	// opts make a client again (renew).
	opts []kgo.Opt
	// stats count its transactions as a stage's are counted: In is
	// the groups (callbacks) written, Out their records; Renewed the
	// clients replaced after a transaction could not be ended.
	stats eos.Stats
}

type txRequest struct {
	recs []*kgo.Record
	done chan error
}

// maxGroup bounds one transaction.
const maxGroup = 500

func newTxWriter(opts []kgo.Opt, txnID string, log *slog.Logger, named ...string) (*txWriter, error) {
	opts = append(append([]kgo.Opt{}, opts...),
		kgo.TransactionalID(txnID),
		// As the stages': how long a transaction of an instance that died
		// and never came back holds back read_committed readers.
		kgo.TransactionTimeout(eos.DefaultTxnTimeout),
		kgo.RecordPartitioner(eos.NamedPartitions(named...)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("transactional writer %s: %w", txnID, err)
	}
	return &txWriter{cl: cl, opts: opts, log: log, in: make(chan txRequest, maxGroup), stopped: make(chan struct{})}, nil
}

// write commits recs and returns once they are durable. Once handed to
// the writer, the records are committed or not whatever becomes of ctx,
// so write waits for that answer and not for ctx: a caller told "canceled"
// while its records were in fact committed would write them a second time.
func (w *txWriter) write(ctx context.Context, recs []*kgo.Record) error {
	req := txRequest{recs: recs, done: make(chan error, 1)}
	select {
	case w.in <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stopped:
		return errWriterStopped
	}
	select {
	case err := <-req.done:
		return err
	case <-w.stopped:
		// run answers every request it took before it returns; one still
		// queued was never taken.
		select {
		case err := <-req.done:
			return err
		default:
			return errWriterStopped
		}
	}
}

var errWriterStopped = errors.New("transactional writer stopped")

// abortTimeout bounds one abort, which goes on when the gateway stops.
const abortTimeout = 30 * time.Second

func (w *txWriter) run(ctx context.Context) error {
	defer close(w.stopped)
	// Fence a predecessor of our transactional id (this instance, before
	// it was killed) now, not at our first write: its open transaction
	// holds back every read_committed reader of the pending topic until it
	// times out, our own pending table among them, and callbacks wait for
	// that table, so there would be no first write. Initializing our
	// producer id aborts it at once.
	if _, _, err := w.cl.ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("transactional writer: initialize producer: %w", err)
	}
	for {
		var batch []txRequest
		select {
		case <-ctx.Done():
			return nil
		case r := <-w.in:
			batch = append(batch, r)
		}
	more:
		for len(batch) < maxGroup {
			select {
			case r := <-w.in:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := w.commit(ctx, batch)
		w.count(batch, err)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (w *txWriter) commit(ctx context.Context, batch []txRequest) error {
	if err := w.cl.BeginTransaction(); err != nil {
		// The client is unusable (its producer id failed for good, or a
		// transaction is still open); a new one can begin.
		if err := w.renew(err); err != nil {
			return err
		}
		if err := w.cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
	}
	began := time.Now()
	defer func() { w.stats.ObserveTransaction(time.Since(began)) }()
	var (
		mu         sync.Mutex
		produceErr error
	)
	for _, r := range batch {
		for _, rec := range r.recs {
			w.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil && produceErr == nil {
					produceErr = err
				}
			})
		}
	}
	// EndTransaction does not flush: the records must be acknowledged first.
	phase := time.Now()
	flushErr := w.cl.Flush(ctx)
	mu.Lock()
	err := errors.Join(flushErr, produceErr)
	mu.Unlock()
	w.stats.Write.Add(int64(time.Since(phase)))
	phase = time.Now()
	defer func() { w.stats.End.Add(int64(time.Since(phase))) }()
	if err != nil {
		if abortErr := w.cl.AbortBufferedRecords(ctx); abortErr != nil {
			err = errors.Join(err, abortErr)
		}
		return fmt.Errorf("write: %w", errors.Join(err, w.abort(ctx)))
	}
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// franz-go keeps the transaction open after a commit that failed
		// or whose outcome is unknown (the coordinator went away), and
		// refuses every BeginTransaction until an abort ends it. The
		// abort of an unknown outcome bumps the epoch, which aborts the
		// transaction on the broker if it was still open there.
		return fmt.Errorf("commit: %w", errors.Join(err, w.abort(ctx)))
	}
	return nil
}

// abort ends the open transaction without committing it. A client that
// cannot is replaced: the new one's producer id fences the old one's
// epoch, which aborts whatever it left open on the broker.
func (w *txWriter) abort(ctx context.Context) error {
	// Not cut short by a stopping gateway: a transaction left open holds
	// back every read_committed reader of its partitions.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := w.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return errors.Join(fmt.Errorf("abort: %w", err), w.renew(err))
	}
	return nil
}

// renew replaces the client with a new one of the same transactional id;
// why is the error that made the old one unusable, for the log.
func (w *txWriter) renew(why error) error {
	cl, err := kgo.NewClient(w.opts...)
	if err != nil {
		return fmt.Errorf("renew the transactional writer: %w", err)
	}
	w.cl.Close()
	w.cl = cl
	w.stats.Renewed.Add(1)
	w.log.Warn("transactional writer renewed; its open transaction is aborted when the new one starts", "err", why)
	return nil
}

func (w *txWriter) close() { w.cl.Close() }

// count adds a transaction of batch, committed unless err, to the stats.
func (w *txWriter) count(batch []txRequest, err error) {
	if err != nil {
		w.stats.Aborted.Add(1)
		return
	}
	recs := 0
	for _, r := range batch {
		recs += len(r.recs)
	}
	w.stats.Committed.Add(1)
	w.stats.In.Add(int64(len(batch)))
	w.stats.Out.Add(int64(recs))
}
