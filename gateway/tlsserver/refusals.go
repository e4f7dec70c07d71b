package tlsserver

import (
	"sync"
	"time"
)

// Refused requests are summarised per source, so that a caller without
// credentials cannot fill the log (or an audit log, kept far longer) with
// a record a request.
const (
	// refusalWindow is the least time between two reports of one source.
	refusalWindow = time.Minute
	// refusalSources bounds the sources remembered; past it, sources
	// reported more than a window ago are forgotten first.
	refusalSources = 4096
)

// Refusals counts refused requests per source and says when to report
// them: at most once per source a window, with the count since the last
// report. Safe for concurrent use.
type Refusals struct {
	now func() time.Time

	mu      sync.Mutex
	sources map[string]*refused
}

type refused struct {
	lastReport time.Time // zero until the first report
	unreported int
}

// NewRefusals returns an empty count; now is the clock (time.Now when nil).
func NewRefusals(now func() time.Time) *Refusals {
	if now == nil {
		now = time.Now
	}
	return &Refusals{now: now, sources: map[string]*refused{}}
}

// Refuse records one refused request of src. report is how many refusals
// to report now in one record, this one included: 0 while the source's
// last report is younger than a window.
func (g *Refusals) Refuse(src string) (report int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	s := g.sources[src]
	if s == nil {
		if len(g.sources) >= refusalSources {
			g.forget(now)
		}
		s = &refused{}
		g.sources[src] = s
	}
	s.unreported++
	if s.lastReport.IsZero() || now.Sub(s.lastReport) >= refusalWindow {
		report, s.unreported, s.lastReport = s.unreported, 0, now
	}
	return report
}

// forget drops the sources reported a window ago or more with nothing
// unreported, and, when that leaves the count full, arbitrary sources
// until a quarter is free: their unreported counts are lost, which only a
// flood of sources costs, and each refusal stays cheap (amortised) while
// memory stays bounded. Called with mu held.
func (g *Refusals) forget(now time.Time) {
	for src, s := range g.sources {
		if now.Sub(s.lastReport) >= refusalWindow && s.unreported == 0 {
			delete(g.sources, src)
		}
	}
	for src := range g.sources {
		if len(g.sources) <= refusalSources*3/4 {
			break
		}
		delete(g.sources, src)
	}
}
