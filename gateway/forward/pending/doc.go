// Package pending holds what the gateway knows of the documents РЭМД
// accepted and settles on a callback: the entry format of the compacted
// pending topic (entry.go), the settlement rules as a pure function
// (settle.go), and the bounded set of early callbacks (orphans.go).
//
// It knows no registry and no broker: the forward stage turns a
// settlement into the records it writes (status, DLQ record, re-send),
// and serializes settlements per document.
package pending
