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
	"slices"
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
	kindTimed byte = 't' // a side entry that may fall due: its value starts with the time and its table
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
	timed     map[Hash]timer // side entries that fall due, and when
	// Next is the changelog offset to read from to catch up.
	Next int64
	// undo restores the state of before the open transaction when it aborts.
	undo    []undoStep
	changes []Change
}

type undoStep struct {
	side     bool
	key      Hash
	had      bool
	entry    Entry
	sideVal  []byte
	hadTimer bool
	timer    timer
}

// timer is when a timed side entry falls due, and its table.
type timer struct {
	due   int64 // unix milliseconds
	table string
}

// NewStore returns an empty store for a partition.
func NewStore(partition int32) *Store {
	return &Store{Partition: partition, dedup: map[Hash]Entry{}, side: map[Hash][]byte{}, timed: map[Hash]timer{}}
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
	oldTimer, hadTimer := s.timed[h]
	s.undo = append(s.undo, undoStep{side: true, key: h, had: had, sideVal: old, hadTimer: hadTimer, timer: oldTimer})
	s.side[h] = v
	s.changes = append(s.changes, Change{Key: changelogKey(kindSide, h), Value: v})
}

// PutSideDue writes a side-table value that falls due at due (zero: not
// any more) within the open transaction; Due returns it from then on.
// A table's entries are written either always with PutSideDue or never.
func (s *Store) PutSideDue(table, key string, v []byte, due time.Time) {
	s.putTimed(HashKey(kindSide, table+"|"+key), table, v, due)
}

// Disarm keeps a due entry as it is but no longer due.
func (s *Store) Disarm(d DueEntry) { s.putTimed(d.hash, d.Table, d.Value, time.Time{}) }

func (s *Store) putTimed(h Hash, table string, v []byte, due time.Time) {
	old, had := s.side[h]
	oldTimer, hadTimer := s.timed[h]
	s.undo = append(s.undo, undoStep{side: true, key: h, had: had, sideVal: old, hadTimer: hadTimer, timer: oldTimer})
	s.side[h] = v
	t := timer{table: table}
	if !due.IsZero() {
		t.due = due.UnixMilli()
		s.timed[h] = t
	} else {
		delete(s.timed, h)
	}
	s.changes = append(s.changes, Change{Key: changelogKey(kindTimed, h), Value: encodeTimed(t, v)})
}

// DueEntry is a timed side entry that has fallen due.
type DueEntry struct {
	Table string
	Value []byte
	Due   time.Time
	hash  Hash
}

// Due returns the timed side entries due at now, earliest first. They stay
// due until rewritten.
func (s *Store) Due(now time.Time) []DueEntry {
	cut := now.UnixMilli()
	var out []DueEntry
	for h, t := range s.timed {
		if t.due <= cut {
			out = append(out, DueEntry{Table: t.table, Value: s.side[h], Due: time.UnixMilli(t.due), hash: h})
		}
	}
	slices.SortFunc(out, func(a, b DueEntry) int { return a.Due.Compare(b.Due) })
	return out
}

// HasDue reports whether an entry is due at now.
func (s *Store) HasDue(now time.Time) bool {
	cut := now.UnixMilli()
	for _, t := range s.timed {
		if t.due <= cut {
			return true
		}
	}
	return false
}

// Timers is the number of timed side entries not yet due or handled.
func (s *Store) Timers() int { return len(s.timed) }

func encodeTimed(t timer, v []byte) []byte {
	b := make([]byte, 9, 9+len(t.table)+len(v))
	binary.BigEndian.PutUint64(b, uint64(t.due))
	b[8] = byte(len(t.table))
	b = append(b, t.table...)
	return append(b, v...)
}

func decodeTimed(b []byte) (timer, []byte, error) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return timer{}, nil, errors.New("timed side entry is too short")
	}
	n := 9 + int(b[8])
	return timer{due: int64(binary.BigEndian.Uint64(b)), table: string(b[9:n])}, b[n:], nil
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
			s.undoTimer(u)
		case u.side:
			delete(s.side, u.key)
			s.undoTimer(u)
		case u.had:
			s.dedup[u.key] = u.entry
		default:
			delete(s.dedup, u.key)
		}
	}
	s.undo = s.undo[:0]
	s.changes = nil
}

func (s *Store) undoTimer(u undoStep) {
	if u.hadTimer {
		s.timed[u.key] = u.timer
	} else {
		delete(s.timed, u.key)
	}
}

// Expire deletes the dedup entries last written before cutoff, within the
// open transaction, and returns how many it deleted.
func (s *Store) Expire(cutoff time.Time) int {
	c := uint32(cutoff.Unix())
	n := 0
	for h, e := range s.dedup {
		if e.Seen < c {
			s.deleteDedup(h, e)
			n++
		}
	}
	return n
}

// DeleteDedup deletes a dedup entry within the open transaction (the
// normalize stage puts back what an event it then refused wrote).
func (s *Store) DeleteDedup(key string) {
	h := HashKey(kindDedup, key)
	if e, ok := s.dedup[h]; ok {
		s.deleteDedup(h, e)
	}
}

func (s *Store) deleteDedup(h Hash, e Entry) {
	s.undo = append(s.undo, undoStep{key: h, had: true, entry: e})
	delete(s.dedup, h)
	s.changes = append(s.changes, Change{Key: changelogKey(kindDedup, h), Value: nil})
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
	case kindTimed:
		if value == nil {
			delete(s.side, h)
			delete(s.timed, h)
			return nil
		}
		t, v, err := decodeTimed(value)
		if err != nil {
			return err
		}
		s.side[h] = append([]byte(nil), v...)
		if t.due != 0 {
			s.timed[h] = t
		} else {
			delete(s.timed, h)
		}
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
