package forward

import (
	"context"
	"sync"
	"time"
)

// lane is one key's records in a batch, as the straggler watch sees it.
type lane struct {
	mu     sync.Mutex
	state  laneState
	cancel context.CancelFunc
}

// laneState is where a lane's current record is.
type laneState int

const (
	laneBusy     laneState = iota // calling, or between records
	laneFailing                   // its record is retrying in place
	laneFinished                  // no record left
)

// start gives the lane's next record a call context the watch can end.
func (l *lane) start(ctx context.Context) context.Context {
	c, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.state, l.cancel = laneBusy, cancel
	l.mu.Unlock()
	return c
}

func (l *lane) failing() {
	l.mu.Lock()
	if l.state == laneBusy {
		l.state = laneFailing
	}
	l.mu.Unlock()
}

// settle ends the record's call context; the lane is busy again.
func (l *lane) settle() {
	l.mu.Lock()
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.state = laneBusy
	l.mu.Unlock()
}

func (l *lane) finish() {
	l.mu.Lock()
	l.state = laneFinished
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.mu.Unlock()
}

// watchStragglers hurries the failing records of a batch once no lane is
// making progress other than retrying one, for longer than the first
// backoff: long enough for a blip to pass in place.
func (s *consumer) watchStragglers(stop <-chan struct{}, lanes []*lane) {
	grace := s.cfg.Dest.BackoffMin.D() + 100*time.Millisecond
	var since time.Time
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		busy, failing := 0, 0
		for _, l := range lanes {
			l.mu.Lock()
			switch l.state {
			case laneBusy:
				busy++
			case laneFailing:
				failing++
			}
			l.mu.Unlock()
		}
		// An open breaker is an outage, not stragglers: the batch waits.
		if busy > 0 || failing == 0 || !s.send.breaker.closed() {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = time.Now()
			continue
		}
		if time.Since(since) < grace {
			continue
		}
		for _, l := range lanes {
			l.mu.Lock()
			if l.state == laneFailing && l.cancel != nil {
				l.cancel()
			}
			l.mu.Unlock()
		}
		since = time.Time{}
	}
}
