// Package state is the normalize stage's partitioned state: one Store per
// input partition, holding a compact dedup entry per key and small side
// tables (the identity bridge's data), changelogged to a compacted topic in
// the same transaction as the outputs, and restored from it when the
// partition is assigned.
//
// Keys are kept as 16-byte hashes: memory per key stays small and fixed,
// and no personal data (a СНИЛС inside a dedup key) reaches the changelog.
package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Hash is the 16-byte key under which an entry is kept.
type Hash [16]byte

// HashKey hashes a dedup or side-table key.
func HashKey(kind byte, key string) Hash {
	h := sha256.New()
	h.Write([]byte{kind})
	h.Write([]byte(key))
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// Entry is what the store keeps per dedup key: 24 bytes.
type Entry struct {
	Fingerprint uint64 // the first 8 bytes of the event's content hash
	Version     int64
	Seen        uint32 // unix seconds of the last write, for expiry
}

// Changelog record kinds: the first byte of a changelog key.
const (
	kindDedup byte = 'd'
	kindSide  byte = 's'
)

// Change is one write to replay into the changelog: Key is the changelog
// key (kind byte and hash), Value nil for a deletion.
type Change struct {
	Key   []byte
	Value []byte
}

// Store is the state of one input partition. It is not safe for
// concurrent use: the stage handles a partition's records in order.
type Store struct {
	Partition int32
	dedup     map[Hash]Entry
	side      map[Hash][]byte
	// Next is the changelog offset to read from to catch up.
	Next int64
	// undo restores the state of before the open transaction when it aborts.
	undo    []undoStep
	changes []Change
}

type undoStep struct {
	side    bool
	key     Hash
	had     bool
	entry   Entry
	sideVal []byte
}

// NewStore returns an empty store for a partition.
func NewStore(partition int32) *Store {
	return &Store{Partition: partition, dedup: map[Hash]Entry{}, side: map[Hash][]byte{}}
}

// Len is the number of dedup keys held.
func (s *Store) Len() int { return len(s.dedup) }

// Dedup returns the entry of a dedup key.
func (s *Store) Dedup(key string) (Entry, bool) {
	e, ok := s.dedup[HashKey(kindDedup, key)]
	return e, ok
}

// PutDedup writes a dedup entry within the open transaction.
func (s *Store) PutDedup(key string, e Entry) {
	h := HashKey(kindDedup, key)
	old, had := s.dedup[h]
	s.undo = append(s.undo, undoStep{key: h, had: had, entry: old})
	s.dedup[h] = e
	s.changes = append(s.changes, Change{Key: changelogKey(kindDedup, h), Value: encodeEntry(e)})
}

// Side returns a side-table value.
func (s *Store) Side(table, key string) ([]byte, bool) {
	v, ok := s.side[HashKey(kindSide, table+"|"+key)]
	return v, ok
}

// PutSide writes a side-table value within the open transaction.
func (s *Store) PutSide(table, key string, v []byte) {
	h := HashKey(kindSide, table+"|"+key)
	old, had := s.side[h]
	s.undo = append(s.undo, undoStep{side: true, key: h, had: had, sideVal: old})
	s.side[h] = v
	s.changes = append(s.changes, Change{Key: changelogKey(kindSide, h), Value: v})
}

// TakeChanges returns the writes since the last call, for the changelog.
func (s *Store) TakeChanges() []Change {
	c := s.changes
	s.changes = nil
	return c
}

// Commit makes the open transaction's writes permanent.
func (s *Store) Commit() { s.undo = s.undo[:0]; s.changes = nil }

// Abort undoes the open transaction's writes, newest first.
func (s *Store) Abort() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := s.undo[i]
		switch {
		case u.side && u.had:
			s.side[u.key] = u.sideVal
		case u.side:
			delete(s.side, u.key)
		case u.had:
			s.dedup[u.key] = u.entry
		default:
			delete(s.dedup, u.key)
		}
	}
	s.undo = s.undo[:0]
	s.changes = nil
}

// Expire deletes the dedup entries last written before cutoff, within the
// open transaction, and returns how many it deleted.
func (s *Store) Expire(cutoff time.Time) int {
	c := uint32(cutoff.Unix())
	n := 0
	for h, e := range s.dedup {
		if e.Seen < c {
			s.undo = append(s.undo, undoStep{key: h, had: true, entry: e})
			delete(s.dedup, h)
			s.changes = append(s.changes, Change{Key: changelogKey(kindDedup, h), Value: nil})
			n++
		}
	}
	return n
}

// Apply replays one changelog record into the store (restore).
func (s *Store) Apply(key, value []byte) error {
	if len(key) != 17 {
		return errors.New("changelog key is not 17 bytes")
	}
	var h Hash
	copy(h[:], key[1:])
	switch key[0] {
	case kindDedup:
		if value == nil {
			delete(s.dedup, h)
			return nil
		}
		e, err := decodeEntry(value)
		if err != nil {
			return err
		}
		s.dedup[h] = e
	case kindSide:
		if value == nil {
			delete(s.side, h)
			return nil
		}
		s.side[h] = append([]byte(nil), value...)
	default:
		return errors.New("changelog key of unknown kind")
	}
	return nil
}

func changelogKey(kind byte, h Hash) []byte {
	k := make([]byte, 17)
	k[0] = kind
	copy(k[1:], h[:])
	return k
}

func encodeEntry(e Entry) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint64(b[0:], e.Fingerprint)
	binary.BigEndian.PutUint64(b[8:], uint64(e.Version))
	binary.BigEndian.PutUint32(b[16:], e.Seen)
	return b
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) != 20 {
		return Entry{}, errors.New("changelog entry is not 20 bytes")
	}
	return Entry{
		Fingerprint: binary.BigEndian.Uint64(b[0:]),
		Version:     int64(binary.BigEndian.Uint64(b[8:])),
		Seen:        binary.BigEndian.Uint32(b[16:]),
	}, nil
}

// Outcome is what the dedup rule decided for an event.
type Outcome string

// The dedup outcomes of DESIGN §4.
const (
	New       Outcome = "new"
	Duplicate Outcome = "duplicate"
	Update    Outcome = "update"
	Conflict  Outcome = "conflict"
)

// Decide applies DESIGN §4's rule to an event and, unless it is a
// duplicate or a conflict, records it: same key and fingerprint is a
// duplicate; a new fingerprint with a higher version is an update; a new
// fingerprint that is not newer is a conflict. (Payloads without a version
// of their own carry their update time as the version; the adapters decide
// that.) It returns the outcome and the entry that was held.
func (s *Store) Decide(key string, fp uint64, version int64, now time.Time) (Outcome, Entry) {
	old, ok := s.Dedup(key)
	seen := uint32(now.Unix())
	switch {
	case !ok:
		s.PutDedup(key, Entry{Fingerprint: fp, Version: version, Seen: seen})
		return New, Entry{}
	case old.Fingerprint == fp:
		return Duplicate, old
	case version > old.Version:
		s.PutDedup(key, Entry{Fingerprint: fp, Version: version, Seen: seen})
		return Update, old
	default:
		return Conflict, old
	}
}
