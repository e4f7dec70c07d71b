// Package pending tracks the documents РЭМД accepted until its callback,
// or a lookup, settles them. One file a concern:
//
//   - entry.go: the entry format of the compacted pending topic;
//   - settle.go: the settlement rules as pure functions (Settle, Overdue),
//     tested without a broker;
//   - pending.go: the table, and apply, the one sequence by which an event
//     changes a document (lock, check ownership, settle, write durably,
//     update the table);
//   - owner.go: which partitions' documents this instance settles, and
//     their handover on a rebalance;
//   - orphans.go: callbacks that came before their document, bounded;
//   - sweep.go: lookups of late documents, forgetting settled ones;
//   - handler.go and callbackserver.go: the callback listener (mTLS,
//     then each message authenticated by the registry's adapter): result
//     callbacks, found by ce_id or by the MessageID they answer, and file
//     requests answered from the document store;
//   - metrics.go: the counters and gauges.
//
// It knows no registry: the forward stage is reached through Stage
// (ownership of outbound partitions, the records of an outcome, a lookup,
// reading and answering a registry's messages), Documents (the document
// store) and Writer (a durable, atomic write).
package pending
