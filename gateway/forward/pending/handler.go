package pending

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/docstore"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// maxInboundBody bounds the body of a message to the callback listener,
// read before the registry's adapter authenticates it. РЭМД's result is
// a MessageID, a status, an emdrId and a few error codes in a signed SOAP
// envelope, a few kilobytes; 64 KiB leaves room for many errors with long
// messages. A file request (a localUid) is far smaller.
const maxInboundBody = 64 << 10

// maxWaiters is how many callbacks wait at once for their document's
// entry; each holds its body, at most maxInboundBody.
const maxWaiters = 1024

// serveResult takes an authenticated result callback from source. It
// answers (the adapter's answer, 200) only once the result is durably
// written, so РЭМД sends it again if the gateway fails before that.
func (p *Pending) serveResult(w http.ResponseWriter, r *http.Request, source string, in seam.Inbound) {
	cb := in.Result
	if cb.RequestID == "" && cb.MessageID == "" {
		p.m.callbacks.WithLabelValues("invalid").Inc()
		p.fail(w, r, http.StatusBadRequest, "the result names neither its request nor the message it answers")
		return
	}
	if err := p.Handle(r.Context(), source, cb); err != nil {
		// Not acted on: РЭМД sends it again, maybe byte for byte.
		p.stage.Release(in)
		if errors.Is(err, ErrOrphanLimit) {
			p.m.callbacks.WithLabelValues("orphan_refused").Inc()
			w.Header().Set("Retry-After", "60")
			p.fail(w, r, http.StatusServiceUnavailable, err.Error())
			return
		}
		if r.Context().Err() != nil {
			// РЭМД hung up first and sends the callback again: nothing is
			// lost and nothing failed here, so it is counted, not warned
			// about (a rebalance left hundreds of such warnings a minute).
			p.m.callbacks.WithLabelValues("abandoned").Inc()
			p.cfg.Log.Info("РЭМД hung up before its callback was recorded; it sends it again", "request_id", cb.RequestID, "relates_to", cb.MessageID)
			return
		}
		p.cfg.Log.Warn("РЭМД callback not recorded; РЭМД will send it again", "request_id", cb.RequestID, "relates_to", cb.MessageID, "err", err)
		p.fail(w, r, http.StatusServiceUnavailable, "not recorded, send again: "+err.Error())
		return
	}
	writeAnswer(w, p.stage.Answer(r.Context(), in, seam.File{}))
}

// fail answers r with status and text in the registry's protocol (the
// adapter's Fault: a SOAP Fault for РЭМД).
func (p *Pending) fail(w http.ResponseWriter, r *http.Request, status int, text string) {
	writeAnswer(w, p.stage.Fault(r.Header.Get("Content-Type"), status, text))
}

// writeAnswer sends the adapter's answer; a status of 0 is 200.
func writeAnswer(w http.ResponseWriter, a seam.Answer) {
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// Handle records one callback result. The callback names its document by
// the event's ce_id (cb.RequestID) or by the MessageID of the call it
// answers (cb.MessageID, РЭМД's relatesToMessage), which the table's
// index turns into the ce_id; a MessageID not known yet (the callback
// overtook its document's entry) waits for it like a ce_id, and is then
// kept as an orphan under the MessageID, settled when the document's
// entry appears (Accepted, settleOrphans).
//
// Only the instance that owns the document's partition settles it, so
// that a callback, an early callback and a lookup never settle one
// document on two instances at once (each would write its own
// "registered"). Another instance, which a callback reaches after a
// rebalance, records the result as an orphan, durably, and the owner
// settles from it (settleOrphans). Orphans are bounded, in all and per
// source (the caller's address): past a bound Handle returns
// ErrOrphanLimit and keeps nothing.
func (p *Pending) Handle(ctx context.Context, source string, cb CallbackResult) error {
	if cb.RequestID == "" && cb.MessageID == "" {
		return errors.New("a callback names neither its request nor the message it answers")
	}
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
	key := cb.RequestID
	select {
	case p.waiters <- struct{}{}:
		deadline := time.Now().Add(p.cfg.Callback.Wait.D())
		if key == "" {
			if id, ok := p.byMessage.Wait(ctx, cb.MessageID, p.cfg.Callback.Wait.D(), func(_ string, ok bool) bool { return ok }); ok {
				key = id
			}
		}
		if key != "" {
			// The entry of the sending the callback answers: a callback
			// for a document sent again may overtake its new entry.
			send := sendOf(key, cb.MessageID)
			p.table.Wait(ctx, key, time.Until(deadline), func(e *Entry, ok bool) bool { return ok && e != nil && e.Resends >= send })
		}
		<-p.waiters
	default:
		if key == "" {
			key, _ = p.byMessage.Get(cb.MessageID)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	send := -1
	if key == "" {
		// No document known by the MessageID yet: kept as an orphan under it.
		key = cb.MessageID
	} else {
		cb.RequestID = key
		send = sendOf(key, cb.MessageID)
	}
	st, err := p.apply(ctx, key, Event{Kind: Callback, Result: cb, Source: source, Sending: send + 1})
	if err != nil {
		return err
	}
	p.m.callbacks.WithLabelValues(string(st.Action)).Inc()
	return nil
}

// fileTimeout bounds the document store's answer to one file request:
// a document not indexed yet waits for the index to catch up.
const fileTimeout = 10 * time.Second

// serveFile answers an authenticated file request from the document
// store. Any instance answers it: every instance's store indexes the
// whole compacted document topic, every partition (gateway/docstore), not
// only the partitions it forwards. A document the store does not hold is
// answered as the adapter answers that (РЭМД: status error,
// FILE_WAS_NOT_SENT); a store that fails is answered 503, so that the
// registry asks again.
func (p *Pending) serveFile(w http.ResponseWriter, r *http.Request, in seam.Inbound) {
	if p.cfg.Documents == nil {
		p.m.files.WithLabelValues(fileError).Inc()
		p.fail(w, r, http.StatusServiceUnavailable, "no document store here")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), fileTimeout)
	defer cancel()
	f := seam.File{LocalUID: in.LocalUID}
	outcome := fileServed
	doc, err := p.cfg.Documents.Get(ctx, in.LocalUID)
	switch {
	case errors.Is(err, docstore.ErrNotFound):
		outcome = fileNotFound
	case err != nil:
		p.m.files.WithLabelValues(fileError).Inc()
		// The error, not the local_uid: the store's errors name no document.
		p.cfg.Log.Warn("РЭМД's file request not answered: the document store failed; РЭМД asks again", "err", err)
		p.stage.Release(in)
		w.Header().Set("Retry-After", "10")
		p.fail(w, r, http.StatusServiceUnavailable, "the document store is not available, ask again")
		return
	default:
		f = seam.File{Found: true, LocalUID: doc.LocalUID, MediaType: doc.MediaType, Data: doc.Data}
	}
	p.m.files.WithLabelValues(outcome).Inc()
	writeAnswer(w, p.stage.Answer(r.Context(), in, f))
}

// readInbound reads a message's body, at most maxInboundBody.
func readInbound(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInboundBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("body over %d bytes: %w", maxInboundBody, err)
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	return body, nil
}
