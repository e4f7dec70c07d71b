package adminapi

import (
	"net"
	"sync"
	"time"
)

// Failed authentication is throttled and summarised per source address,
// so that a caller guessing tokens can neither run fast nor fill the audit
// log (kept 400 days) with a record a guess.
const (
	// guardWindow is the span over which a source's failures are counted,
	// and the least time between two audit records of one source.
	guardWindow = time.Minute
	// guardLimit is how many failed authentications a source may make in
	// a window before it is answered 429 without its credentials being
	// looked at. An operator mistyping a token a few times stays well below.
	guardLimit = 10
	// guardSources bounds the sources remembered; past it, sources quiet
	// for a window are forgotten first.
	guardSources = 4096
)

// guard counts failed authentications per source.
type guard struct {
	now func() time.Time

	mu      sync.Mutex
	sources map[string]*sourceFailures
}

// sourceFailures is one source's failures in its current window.
type sourceFailures struct {
	windowStart time.Time
	failures    int       // in the current window
	lastAudit   time.Time // when a record of this source was last audited
	unaudited   int       // failures since then not yet in the audit log
}

func newGuard(now func() time.Time) *guard {
	return &guard{now: now, sources: map[string]*sourceFailures{}}
}

// source is the address a request came from, without its port: a caller
// gets a new port with each connection.
func source(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// throttled reports whether src has used up its failures for the window.
func (g *guard) throttled(src string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[src]
	return s != nil && g.now().Sub(s.windowStart) < guardWindow && s.failures >= guardLimit
}

// fail records a failed authentication of src. audit is the number of
// failures to write to the audit log now, in one record: 0 while the
// source's last record is younger than a window.
func (g *guard) fail(src string) (audit int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	s := g.sources[src]
	if s == nil {
		if len(g.sources) >= guardSources {
			g.forget(now)
		}
		s = &sourceFailures{windowStart: now}
		g.sources[src] = s
	}
	if now.Sub(s.windowStart) >= guardWindow {
		s.windowStart, s.failures = now, 0
	}
	s.failures++
	s.unaudited++
	if s.lastAudit.IsZero() || now.Sub(s.lastAudit) >= guardWindow {
		audit, s.unaudited, s.lastAudit = s.unaudited, 0, now
	}
	return audit
}

// forget drops the sources quiet for a window, or, when every source is
// busy, the one whose window is oldest. Called with mu held.
func (g *guard) forget(now time.Time) {
	var oldest string
	for src, s := range g.sources {
		if now.Sub(s.windowStart) >= guardWindow && now.Sub(s.lastAudit) >= guardWindow {
			delete(g.sources, src)
			continue
		}
		if oldest == "" || s.windowStart.Before(g.sources[oldest].windowStart) {
			oldest = src
		}
	}
	if len(g.sources) >= guardSources && oldest != "" {
		delete(g.sources, oldest)
	}
}
