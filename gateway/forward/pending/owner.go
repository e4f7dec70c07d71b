package pending

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
)

// owner is which partitions' documents this instance settles, and the
// handover of a partition from one instance to the next.
type owner struct {
	// handover hands a partition's documents from one instance to the
	// next. A settlement holds it for reading from its ownership check to
	// its commit; losing partitions takes it for writing, so that this
	// instance's settlements are committed before the group moves on and
	// the next owner's table can read them.
	handover sync.RWMutex
	// mu guards settleFrom and assignments.
	mu sync.Mutex
	// settleFrom is, by partition this instance was given, the pending
	// topic's last stable offset at that moment: the partition's
	// documents are settled here once the table has read that far, past
	// every settlement of the previous owner. Absent until known. The
	// table always gets there, even on a compacted topic whose partition
	// went idle: the log cleaner never touches the active segment, and a
	// segment rolls only when something new is appended, so the records
	// and markers just below that offset are still there to be read.
	settleFrom map[int32]int64
	// assignments counts assignments, so that a late offset lookup of an
	// earlier one is not taken for the current one.
	assignments int
	// adm looks the offsets up. Its own client: the group calls assigned
	// before the stage's session is in hand.
	adm *kadm.Client
}

// owns reports whether this instance settles the documents of partition
// part: the stage holds the partition, and the table has read what the
// previous owner wrote there. Until then a callback of such a document is
// kept as an orphan, and settled once it does.
func (p *Pending) owns(part int32) bool {
	if !p.stage.Owns(part) {
		return false
	}
	p.owner.mu.Lock()
	from, ok := p.owner.settleFrom[part]
	p.owner.mu.Unlock()
	return ok && p.table.Position(part) >= from
}

// Assigned learns, for the outbound partitions the stage was given, how
// far the table must read before their documents are settled here.
func (p *Pending) Assigned(ctx context.Context, parts []int32) {
	o := &p.owner
	o.mu.Lock()
	o.assignments++
	this := o.assignments
	for _, part := range parts {
		delete(o.settleFrom, part)
	}
	o.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	// Not in the group's callback: the lookup may take a while when the
	// cluster is in motion, and the group waits for the callback.
	go func() {
		for {
			ends, err := kafkaclient.EndOffsets(ctx, o.adm, true, p.cfg.Topic)
			if err == nil {
				o.mu.Lock()
				defer o.mu.Unlock()
				if this != o.assignments {
					return
				}
				for _, part := range parts {
					if off, ok := ends.Lookup(p.cfg.Topic, part); ok {
						o.settleFrom[part] = off.Offset
					}
				}
				return
			}
			p.cfg.Log.Warn("pending documents' offsets not known; their settling waits", "topic", p.cfg.Topic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// Revoked returns once every settlement that found this instance the
// owner of a partition it has now lost is committed. The stage calls it
// after it stopped holding the partitions.
func (p *Pending) Revoked() {
	p.owner.handover.Lock()
	defer p.owner.handover.Unlock()
}
