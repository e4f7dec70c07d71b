package pending

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxCallbackBody bounds a callback's body: РЭМД's result is a request
// id, a status, an emdrId and a few error codes, a kilobyte or two; 64
// KiB leaves room for many errors with long messages.
const maxCallbackBody = 64 << 10

// maxWaiters is how many callbacks wait at once for their document's
// entry; each holds its body, at most maxCallbackBody.
const maxWaiters = 1024

// serve takes an authenticated РЭМД callback (POST /emdr/callback) from
// source. It answers 200 only once the result is durably written, so РЭМД
// sends it again if the gateway fails before that.
func (p *Pending) serve(w http.ResponseWriter, r *http.Request, source string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			p.m.callbacks.WithLabelValues("too_large").Inc()
			http.Error(w, fmt.Sprintf("callback body over %d bytes", maxCallbackBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "callback body: "+err.Error(), http.StatusBadRequest)
		return
	}
	cb, err := p.stage.ParseCallback(body)
	if err != nil {
		p.m.callbacks.WithLabelValues("invalid").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := p.Handle(r.Context(), source, cb); err != nil {
		if errors.Is(err, ErrOrphanLimit) {
			p.m.callbacks.WithLabelValues("orphan_refused").Inc()
			w.Header().Set("Retry-After", "60")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if r.Context().Err() != nil {
			// РЭМД hung up first and sends the callback again: nothing is
			// lost and nothing failed here, so it is counted, not warned
			// about (a rebalance left hundreds of such warnings a minute).
			p.m.callbacks.WithLabelValues("abandoned").Inc()
			p.cfg.Log.Info("РЭМД hung up before its callback was recorded; it sends it again", "request_id", cb.RequestID)
			return
		}
		p.cfg.Log.Warn("РЭМД callback not recorded; РЭМД will send it again", "request_id", cb.RequestID, "err", err)
		http.Error(w, "not recorded, send again: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Handle records one callback result. Only the instance that owns the
// document's partition settles it, so that a callback, an early callback
// and a lookup never settle one document on two instances at once (each
// would write its own "registered"). Another instance, which a callback
// reaches after a rebalance, records the result as an orphan, durably, and
// the owner settles from it (settleOrphans). Orphans are bounded, in all
// and per source (the caller's address): past a bound Handle returns
// ErrOrphanLimit and keeps nothing.
func (p *Pending) Handle(ctx context.Context, source string, cb CallbackResult) error {
	// Just after a start the table is still being read; a callback waits
	// for it as it would for its document's entry, rather than being
	// refused at once and, after РЭМД's few re-sends, left to the
	// reconciliation lookup.
	if p.table.Ready() != nil {
		wait := time.NewTimer(p.cfg.Callback.Wait.D())
		defer wait.Stop()
		select {
		case <-p.table.Loaded():
		case <-wait.C:
			return errors.New("pending documents are still loading")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The forward stage commits its pending entry just after РЭМД's
	// synchronous answer; a quick callback may overtake it. The wait holds
	// no lock: callbacks of other documents must not queue behind it. So
	// many waiting at once that the bound is reached is not the quick
	// callbacks of a healthy registry: those beyond it do not wait.
	select {
	case p.waiters <- struct{}{}:
		p.table.Wait(ctx, cb.RequestID, p.cfg.Callback.Wait.D(), func(e *Entry, ok bool) bool { return ok && e != nil })
		<-p.waiters
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := p.apply(ctx, cb.RequestID, Event{Kind: Callback, Result: cb, Source: source})
	if err != nil {
		return err
	}
	p.m.callbacks.WithLabelValues(string(st.Action)).Inc()
	return nil
}
