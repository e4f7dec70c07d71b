package pending

import (
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ResendLimit is how often a document is sent again for transient errors
// in РЭМД's callback before it is parked.
const ResendLimit = 3

// EventKind is what happened to a document.
type EventKind int

// What happens to a document.
const (
	// Callback is РЭМД's callback for the document, reaching this instance.
	Callback EventKind = iota + 1
	// EarlyCallback is a callback kept as an orphan, applied now that its
	// document is pending here.
	EarlyCallback
	// LookedUp is РЭМД's lookup finding the document registered, when its
	// callback is late.
	LookedUp
)

// Event is one thing that happened to a document, with the result it
// carries.
type Event struct {
	Kind   EventKind
	Result CallbackResult // the callback's, the orphan's or (Registered) the lookup's
	Source string         // a callback's source address, kept with an orphan for its bounds
	// OrphanOf is, for an EarlyCallback, the id its orphan is kept under:
	// the ce_id (when empty) or the MessageID of the call it answered.
	OrphanOf string
	// Sending is, for a callback or an early callback, which sending of
	// the document it answers, counted from 1 (seam.MessageID's send + 1),
	// or 0 when it does not say (it names the ce_id only).
	Sending int
}

// Action is what a settlement writes; its value is the callbacks
// metric's label.
type Action string

// The settlements.
const (
	Ignore   Action = ""           // nothing: the event does not apply (any more)
	Register Action = "registered" // the document's status "registered", and its entry
	Reject   Action = "rejected"   // its DLQ record and status "rejected", and its entry
	Resend   Action = "resent"     // the document sent again, and its entry
	Note     Action = "repeated"   // a later callback of a settled document: nothing written
	Stale    Action = "stale"      // a callback of an earlier sending of a document sent again: nothing written
	Orphan   Action = "orphan"     // a callback for a document not settled here: kept under OrphanKey
)

// Settlement is what an event does to a document: the action, and what
// to write for it.
type Settlement struct {
	Action Action
	// Key is what Entry is written under: the ce_id, or OrphanKey(ce_id).
	// An orphan's Entry.Partition is the caller's to set (PartitionOf):
	// the number of partitions is the topic's.
	Key string
	// Entry is the new entry; settled, it no longer holds the record.
	Entry Entry
	// Record is the outbound record settled (Register, Reject, Resend):
	// its status, DLQ record or re-send is made from it.
	Record *StoredRecord
	// Reasons are a rejection's; none means its callback is missing.
	Reasons []topics.Reason
	// OtherRegistryID is set when a repeated callback names another
	// emdrId than the first, which stands.
	OtherRegistryID string
}

// Settle applies ev to the document ceID whose stored entry is e (nil:
// none known). owned is whether this instance settles the documents of
// e's partition now. The rules (domain/EGISZ.md §3 d):
//   - a pending document owned here is settled by a callback, an early
//     callback or a lookup: registered, sent again (transient errors,
//     at most ResendLimit times) or rejected;
//   - a callback for a settled document is only noted: the first stands;
//   - a callback of an earlier sending of a document sent again since
//     (ev.Sending at most e.Resends) is stale: the later sending's stands;
//   - a callback for a document not known, or pending on a partition
//     another instance owns, is kept as an orphan, for the owner (or the
//     forward stage, when its entry comes) to settle with;
//   - anything else (a lookup or an early callback for a document no
//     longer pending, or not owned) does nothing.
func Settle(ceID string, e *Entry, owned bool, ev Event, now time.Time) Settlement {
	switch {
	case e != nil && (ev.Kind == Callback || ev.Kind == EarlyCallback) && ev.Sending > 0 && ev.Sending-1 < e.Resends:
		return Settlement{Action: Stale, Key: ceID}
	case e != nil && e.State == StatePending && e.Record != nil && owned:
		next := *e
		if ev.Kind == Callback {
			next.Callbacks++
			if next.FirstCB.IsZero() {
				next.FirstCB = now
			}
			next.LastCB = now
		}
		return settled(ceID, next, ev.Result, now)
	case e != nil && e.State != StatePending && ev.Kind == Callback:
		next := *e
		next.Callbacks++
		next.LastCB = now
		s := Settlement{Action: Note, Key: ceID, Entry: next}
		if ev.Result.Registered && e.State == StateRegistered && ev.Result.RegistryID != e.RegistryID {
			s.OtherRegistryID = ev.Result.RegistryID
		}
		return s
	case ev.Kind == Callback:
		cb := ev.Result
		return Settlement{Action: Orphan, Key: OrphanKey(ceID), Entry: Entry{
			State: StateOrphan, Callback: &cb, FirstCB: now, LastCB: now, Callbacks: 1, Source: ev.Source,
		}}
	default:
		return Settlement{}
	}
}

// settled settles the pending entry e with result r.
func settled(ceID string, e Entry, r CallbackResult, now time.Time) Settlement {
	s := Settlement{Key: ceID, Record: e.Record}
	e.Done = now
	switch {
	case r.Registered:
		s.Action, e.State, e.RegistryID = Register, StateRegistered, r.RegistryID
	case r.Retry && e.Resends < ResendLimit:
		// РЭМД could not fetch or check the document for a reason of its
		// own or the MIS side (MIS_NOT_AVAILABLE, CA_INACCESSIBILITY):
		// the document goes round again.
		s.Action, e.State = Resend, StateResent
	default:
		s.Action, e.State, s.Reasons = Reject, StateRejected, r.Reasons
	}
	// A settled document's record is in its status, its DLQ record or its
	// re-send; the entry only answers later callbacks and the sweep.
	// Without it the entry is a tenth of the size, and every instance's
	// table reads a registered document's entry back.
	e.Record = nil
	s.Entry = e
	return s
}

// Due is what the sweep does with an entry.
type Due int

// What the sweep does.
const (
	Keep   Due = iota // nothing yet
	LookUp            // pending past reconcile_after: ask РЭМД
	Forget            // settled (or an orphan) past keep_done: tombstone it
)

// Overdue is the sweep's rule for an entry on a partition this instance
// settles (owned); the sweep leaves other instances' entries alone.
func Overdue(e *Entry, owned bool, now time.Time, reconcileAfter, keepDone time.Duration) Due {
	switch {
	case e == nil || !owned:
		return Keep
	case e.State == StatePending:
		if now.Sub(e.SentAt) >= reconcileAfter {
			return LookUp
		}
	case e.State == StateOrphan:
		if now.Sub(e.LastCB) >= keepDone {
			return Forget
		}
	default:
		if now.Sub(e.Done) >= keepDone {
			return Forget
		}
	}
	return Keep
}
