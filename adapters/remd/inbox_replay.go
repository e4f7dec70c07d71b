package remd

import (
	"container/heap"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

// DefaultReplayCapacity bounds the messages an Inbox remembers against
// replays when the configuration does not say.
const DefaultReplayCapacity = 100_000

// seen is one message taken: its key (MessageID and Timestamp.Created),
// until when a copy of it could still pass the Timestamp check, and the
// SOAP version it came in, which its answer is sent in.
type seen struct {
	id, key string
	until   time.Time
	version wssec.Version
	index   int // in the heap
}

// replayCache remembers each message taken until its Timestamp's Expires
// plus the clock skew (after that the Timestamp check refuses a copy by
// itself), at most capacity of them: when full, the one that would expire
// first goes, the one least worth remembering. It also says which SOAP
// version a remembered MessageID came in.
type replayCache struct {
	mu       sync.Mutex
	capacity int
	byKey    map[string]*seen
	byID     map[string]*seen // the latest message taken with each MessageID
	order    expiryHeap
}

func newReplayCache(capacity int) *replayCache {
	return &replayCache{capacity: capacity, byKey: map[string]*seen{}, byID: map[string]*seen{}}
}

func replayKey(messageID string, created time.Time) string {
	return messageID + "\x00" + created.UTC().Format(time.RFC3339Nano)
}

// take records a message and reports whether it is new: false means the
// same message was taken before and is still remembered (a replay).
func (c *replayCache) take(messageID string, ts wssec.Timestamp, skew time.Duration, version wssec.Version, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	key := replayKey(messageID, ts.Created)
	if _, ok := c.byKey[key]; ok {
		return false
	}
	for len(c.order) >= c.capacity && len(c.order) > 0 {
		c.remove(c.order[0])
	}
	s := &seen{id: messageID, key: key, until: ts.Expires.Add(skew), version: version}
	heap.Push(&c.order, s)
	c.byKey[key] = s
	c.byID[messageID] = s
	return true
}

// version returns the SOAP version the message messageID came in, if it
// is still remembered.
func (c *replayCache) version(messageID string) (wssec.Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byID[messageID]
	if !ok {
		return 0, false
	}
	return s.version, true
}

// forget forgets the message messageID: a copy of it is taken again.
func (c *replayCache) forget(messageID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.byID[messageID]; ok {
		c.remove(s)
	}
}

// expire forgets the messages whose copies the Timestamp check refuses now.
func (c *replayCache) expire(now time.Time) {
	for len(c.order) > 0 && !now.Before(c.order[0].until) {
		c.remove(c.order[0])
	}
}

func (c *replayCache) remove(s *seen) {
	heap.Remove(&c.order, s.index)
	delete(c.byKey, s.key)
	if c.byID[s.id] == s {
		delete(c.byID, s.id)
	}
}

// len returns how many messages are remembered.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// expiryHeap orders remembered messages by when they may be forgotten.
type expiryHeap []*seen

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(x any) {
	s := x.(*seen)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *expiryHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}
