// Package health serves the gateway's operational HTTP endpoint: /healthz
// (the process is alive), /readyz (every readiness check passes) and
// /metrics (Prometheus), and when asked Go's profiles under /debug/pprof/.
package health

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness collects named checks; the gateway is ready when all pass.
type Readiness struct {
	mu     sync.Mutex
	checks map[string]func() error
	notes  map[string]func() string
}

// NewReadiness returns an empty set of checks. With no checks it is not
// ready: something must declare what ready means.
func NewReadiness() *Readiness {
	return &Readiness{checks: map[string]func() error{}, notes: map[string]func() string{}}
}

// Note registers something /readyz reports without its making the gateway
// unready (a topic that takes smaller records than the catalog says: the
// gateway works, parking what does not fit, and an operator should know).
// An empty note is reported as "ok".
func (r *Readiness) Note(name string, note func() string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes[name] = note
}

// Add registers a check; a nil error means that part is ready.
func (r *Readiness) Add(name string, check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// Report runs every check and says whether all passed, with each check's
// state and each note.
func (r *Readiness) Report() (bool, map[string]string) {
	r.mu.Lock()
	checks := make(map[string]func() error, len(r.checks))
	for k, v := range r.checks {
		checks[k] = v
	}
	notes := make(map[string]func() string, len(r.notes))
	for k, v := range r.notes {
		notes[k] = v
	}
	r.mu.Unlock()
	states := make(map[string]string, len(checks))
	ready := len(checks) > 0
	for name, check := range checks {
		if err := check(); err != nil {
			states[name] = err.Error()
			ready = false
		} else {
			states[name] = "ok"
		}
	}
	for name, note := range notes {
		if _, ok := states[name]; ok {
			continue // a check of the same name says more
		}
		states[name] = "ok"
		if n := note(); n != "" {
			states[name] = n
		}
	}
	return ready, states
}

// Handler serves /healthz, /readyz and /metrics.
func Handler(ready *Readiness, gatherer prometheus.Gatherer) http.Handler {
	return handler(ready, gatherer, false)
}

// HandlerWithProfiles serves what Handler does and Go's profiles under
// /debug/pprof/ (CPU, heap, goroutines, the execution trace): stacks and
// counts, no record contents. /debug/pprof/cmdline is left out, as the
// command line may carry a secret.
func HandlerWithProfiles(ready *Readiness, gatherer prometheus.Gatherer) http.Handler {
	return handler(ready, gatherer, true)
}

func handler(ready *Readiness, gatherer prometheus.Gatherer, profiles bool) http.Handler {
	mux := http.NewServeMux()
	if profiles {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, states := ready.Report()
		names := make([]string, 0, len(states))
		for n := range states {
			names = append(names, n)
		}
		sort.Strings(names)
		type check struct {
			Name  string `json:"name"`
			State string `json:"state"`
		}
		body := struct {
			Ready  bool    `json:"ready"`
			Checks []check `json:"checks"`
		}{Ready: ok, Checks: make([]check, 0, len(names))}
		for _, n := range names {
			body.Checks = append(body.Checks, check{n, states[n]})
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}
