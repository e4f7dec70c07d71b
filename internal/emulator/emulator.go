// Package emulator answers as the federal registries do, for tests and for
// `egisz-gateway dev`.
//
// РЭМД speaks its signed SOAP through ИПС (domain/PROTOCOLS.md §1, §2; the
// names of adapters/remd/wire.go): one endpoint (REMDPath) verifies every
// message's WS-Security signature against Config.Trust, answers
// registerDocument at once (accepted, or the request's errors), then calls
// the sender's getDocumentFile at the request's ReplyTo, checks the file
// against the digest its signatures registered and its CDA header against
// the request, and sends a signed registerDocumentResult there; it answers
// searchRegistryItem and getRegistryItem. Its XML codec is its own, so
// that it checks the gateway's rather than sharing its mistakes.
//
// ИЭМК takes cases and the prescription registry takes prescriptions and
// dispensations in the REST shapes of domain/EGISZ.md §1 (issue 32
// replaces them).
//
// It checks idempotency as the registries do (a re-send of a registered
// document is NOT_UNIQUE_PROVIDED_ID), injects faults on request (latency,
// 5xx, 429 with Retry-After, timeouts, dropped, late, early and repeated
// callbacks, chosen rejection codes for chosen patients) and counts what it
// received so tests can check.
package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	stdjson "encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
)

// Registries the emulator serves.
const (
	REMD = "remd"
	IEMK = "iemk"
	ERX  = "erx"
)

// Faults is what a registry does wrong, set per registry.
type Faults struct {
	LatencyMin time.Duration `json:"latency_min"`
	LatencyMax time.Duration `json:"latency_max"`
	// Rates are fractions of requests, 0..1.
	Rate503        float64 `json:"rate_503"`
	Rate500        float64 `json:"rate_500"`
	Rate429        float64 `json:"rate_429"`
	RetryAfter     int     `json:"retry_after_seconds"` // on 429
	RateTimeout    float64 `json:"rate_timeout"`        // hang until the client gives up
	RateDropCallbk float64 `json:"rate_drop_callback"`  // РЭМД: never send the result
	// Reject answers these patients (by СНИЛС) with this registry code:
	// РЭМД in its result without fetching the file, the others at once.
	// РЭМД also rejects on its own what its checks of the file find.
	Reject map[string]string `json:"reject"`
	// Unavailable answers every request for these patients (by СНИЛС) 503:
	// a transient failure that outlasts the retries in place.
	Unavailable []string `json:"unavailable"`
	// CallbackDelay is how long РЭМД waits, after its checks, to send
	// its result (a late callback).
	CallbackDelay time.Duration `json:"callback_delay"`
	// EarlyCallback makes РЭМД fetch the file, check it and deliver its
	// result before it answers registerDocument (a callback that beats
	// the synchronous answer).
	EarlyCallback bool `json:"early_callback"`
	// CallbackRepeats is how many times more РЭМД sends each result, each
	// a new signed message (repeated callbacks).
	CallbackRepeats int `json:"callback_repeats"`
	// Down answers every request 503 (a full outage).
	Down bool `json:"down"`
}

// Stats counts what one registry received.
type Stats struct {
	Requests   int `json:"requests"`   // every request, faults included
	Registered int `json:"registered"` // distinct idempotency keys registered (РЭМД: once its checks passed)
	Resent     int `json:"resent"`     // requests with a key already registered
	Rejected   int `json:"rejected"`   // answered with a registry error code
	// Codes counts the registry error codes answered, by code (РЭМД's
	// synchronous answers and results alike).
	Codes     map[string]int `json:"codes"`
	Faulted   int            `json:"faulted"`   // answered with an injected fault
	Callbacks int            `json:"callbacks"` // РЭМД results delivered (answered 2xx)
	// Refused counts РЭМД requests refused for their signature: unsigned,
	// untrusted, tampered with or expired.
	Refused int `json:"refused"`
	// FileRequests counts getDocumentFile calls РЭМД started, and
	// FilesFetched those that brought a signed file back.
	FileRequests int `json:"file_requests"`
	FilesFetched int `json:"files_fetched"`
	// BadAnswers counts the sender's answers to results that were
	// delivered but not signed by a trusted certificate or not of the
	// contract's shape.
	BadAnswers int            `json:"bad_answers"`
	ByKey      map[string]int `json:"by_key"` // idempotency key -> accepted requests
	Order      []string       `json:"order"`  // idempotency keys in the order they were accepted
	Times      []time.Time    `json:"-"`      // when each accepted request arrived
}

// Error is one registry error in an answer: an errors/item of РЭМД's
// messages, or an item of the REST registries' JSON errors.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Answer is the synchronous answer to a registration.
type Answer struct {
	RequestID string  `json:"request_id,omitempty"`
	Status    string  `json:"status"` // success | error
	ID        string  `json:"id,omitempty"`
	EMDRID    string  `json:"emdr_id,omitempty"`
	Errors    []Error `json:"errors,omitempty"`
}

// Request is what the emulator reads of a REST registration (ИЭМК, the
// prescription registry): the rest of the body is the registry's business.
type Request struct {
	RequestID string `json:"request_id"`
	Patient   struct {
		SNILS string `json:"snils"`
	} `json:"patient"`
}

// Config is what an emulator is made with.
type Config struct {
	// Callback is where РЭМД sends its calls (getDocumentFile, the
	// result) when a request's ReplyTo is absent or anonymous.
	Callback string
	// Log takes the emulator's warnings (default slog.Default()).
	Log *slog.Logger
	// CallbackTLS is the TLS of РЭМД's calls to the sender (its client
	// certificate for the gateway's mTLS listener); see WithCallbackTLS.
	CallbackTLS *tls.Config
	// Signer signs what РЭМД sends: its answers, getDocumentFile and the
	// results. Without it РЭМД can answer nothing but faults.
	Signer signer.Signer
	// Trust decides whether the certificate that signed a message to РЭМД
	// (or the sender's answer to one of РЭМД's calls) is trusted: the
	// gateway's CA. Without it every message is refused.
	Trust func(*x509.Certificate) error
	// Now is the clock messages' timestamps are checked and registrations
	// dated with (default time.Now).
	Now func() time.Time
}

// Emulator is the registries' HTTP server logic.
type Emulator struct {
	log    *slog.Logger
	client *http.Client
	rnd    func() float64
	signer signer.Signer
	trust  func(*x509.Certificate) error
	now    func() time.Time
	// ctx ends when the emulator closes: РЭМД's work in flight stops.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	faults   map[string]Faults
	stats    map[string]*Stats
	ids      map[string]string   // registry|key -> registry id (REST registries)
	docs     map[string]*remdDoc // РЭМД: by localUid
	byEMDR   map[string]*remdDoc // РЭМД: registered, by emdrId
	seq      int64
	pending  sync.WaitGroup
	closing  chan struct{}
	callback string // РЭМД's address for a request with no ReplyTo
}

// callbackConns bounds the connections callbacks use at once.
const callbackConns = 256

// callbackClient keeps connections to the gateway open between callbacks,
// as many as callbacks run at once: with the default two idle connections
// a host, every callback beyond two in flight dialed a new connection and
// closed it after, and the bench measured the gateway accepting and
// closing connections (about a tenth of its HTTP cost) rather than
// taking results. The connections are bounded too, as a registry's
// callback workers are: a forward batch of a thousand РЭМД documents
// started a thousand callbacks at once, and each beyond the idle pool
// dialed a connection and closed it (12% of the bench process's CPU,
// and the gateway's to accept them); now they wait for one.
//
// РЭМД's calls to the sender (getDocumentFile and the results) share it.
func callbackClient(tlsCfg *tls.Config, conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns, conns, conns
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// New returns an emulator with no signer and no trust (РЭМД then refuses
// every message; the REST registries work); callbackURL is where РЭМД
// calls when a request names no ReplyTo. See NewFromConfig.
func New(callbackURL string, log *slog.Logger) *Emulator {
	return NewFromConfig(Config{Callback: callbackURL, Log: log})
}

// NewFromConfig returns an emulator made with c.
func NewFromConfig(c Config) *Emulator {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		log: log, client: callbackClient(c.CallbackTLS, callbackConns), rnd: rand.Float64,
		signer: c.Signer, trust: c.Trust, now: now, ctx: ctx, cancel: cancel,
		faults: map[string]Faults{}, stats: map[string]*Stats{}, ids: map[string]string{},
		docs: map[string]*remdDoc{}, byEMDR: map[string]*remdDoc{},
		closing: make(chan struct{}), callback: c.Callback,
	}
	for _, r := range []string{REMD, IEMK, ERX} {
		e.stats[r] = &Stats{ByKey: map[string]int{}, Codes: map[string]int{}}
	}
	return e
}

// WithCallbackTLS makes РЭМД's calls to the sender authenticate with the client
// certificate of c and trust the servers c trusts, as the gateway's mTLS
// callback endpoint requires. Call it before the emulator serves.
func (e *Emulator) WithCallbackTLS(c *tls.Config) *Emulator {
	e.client = callbackClient(c, callbackConns)
	return e
}

// SetFaults sets a registry's faults.
func (e *Emulator) SetFaults(registry string, f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[registry] = f
}

// Stats returns a copy of a registry's counters.
func (e *Emulator) Stats(registry string) Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := *e.stats[registry]
	s.ByKey = maps.Clone(e.stats[registry].ByKey)
	s.Codes = maps.Clone(e.stats[registry].Codes)
	s.Times = append([]time.Time(nil), e.stats[registry].Times...)
	s.Order = append([]string(nil), e.stats[registry].Order...)
	return s
}

// Close stops sending callbacks and waits for those in flight.
func (e *Emulator) Close() {
	close(e.closing)
	e.cancel()
	e.pending.Wait()
	e.client.CloseIdleConnections()
}

// Handler serves the registries and the admin endpoints:
//
//	POST /ips/remd                     РЭМД's SOAP (REMDPath): registerDocument, searchRegistryItem, getRegistryItem
//	POST /iemk/cases                   ИЭМК: add, update or close a case
//	POST /iemk/labResults              ИЭМК: a lab result
//	POST /erx/prescriptions            the prescription registry
//	POST /erx/dispensations
//	PUT  /admin/faults/{registry}      set faults (JSON Faults)
//	GET  /admin/stats/{registry}       counters (JSON Stats)
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+REMDPath, e.remdSOAP)
	mux.HandleFunc("POST /iemk/cases", e.register(IEMK))
	mux.HandleFunc("POST /iemk/labResults", e.register(IEMK))
	mux.HandleFunc("POST /erx/prescriptions", e.register(ERX))
	mux.HandleFunc("POST /erx/dispensations", e.register(ERX))
	mux.HandleFunc("PUT /admin/faults/{registry}", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := stdjson.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		reg := r.PathValue("registry")
		if _, ok := e.stats[reg]; !ok {
			http.Error(w, "unknown registry "+reg, http.StatusNotFound)
			return
		}
		e.SetFaults(reg, f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/stats/{registry}", func(w http.ResponseWriter, r *http.Request) {
		reg := r.PathValue("registry")
		if _, ok := e.stats[reg]; !ok {
			http.Error(w, "unknown registry "+reg, http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, e.Stats(reg))
	})
	return mux
}

// register handles a registration at one REST registry (ИЭМК, the
// prescription registry). The idempotency key is the Idempotency-Key
// header (the event's ce_id).
func (e *Emulator) register(registry string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 8<<20)); err != nil {
			writeJSON(w, http.StatusBadRequest, Answer{Status: "error", Errors: []Error{{"VALIDATION_ERROR", "request body: " + err.Error()}}})
			return
		}
		var req Request
		if err := json.Unmarshal(body.Bytes(), &req); err != nil {
			writeJSON(w, http.StatusBadRequest, Answer{Status: "error", Errors: []Error{{"XML_VALIDATION_ERROR", "request is not JSON"}}})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		e.mu.Lock()
		f := e.faults[registry]
		st := e.stats[registry]
		st.Requests++
		e.mu.Unlock()

		if !e.delay(r.Context(), f) {
			return
		}
		if code, retryAfter := e.fault(f); code != 0 {
			e.count(registry, func(s *Stats) { s.Faulted++ })
			if code == -1 { // a timeout: answer nothing until the client gives up
				select {
				case <-r.Context().Done():
				case <-e.closing:
				}
				return
			}
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			}
			msg := map[int]string{503: "RUNTIME_ERROR", 500: "INTERNAL_ERROR", 429: "RATE_LIMIT"}[code]
			writeJSON(w, code, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{msg, "injected fault"}}})
			return
		}
		if slices.Contains(f.Unavailable, req.Patient.SNILS) && req.Patient.SNILS != "" {
			e.count(registry, func(s *Stats) { s.Faulted++ })
			writeJSON(w, http.StatusServiceUnavailable, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{"RUNTIME_ERROR", "Невозможно обработать запрос (injected)"}}})
			return
		}
		if key == "" {
			writeJSON(w, http.StatusBadRequest, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{"VALIDATION_ERROR", "no idempotency key (Idempotency-Key header)"}}})
			return
		}
		if code, ok := f.Reject[req.Patient.SNILS]; ok && req.Patient.SNILS != "" {
			e.count(registry, func(s *Stats) { s.reject([]Error{{Code: code}}) })
			writeJSON(w, http.StatusUnprocessableEntity, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{code, "rejected by the emulator for this patient"}}})
			return
		}

		e.mu.Lock()
		id, seen := e.ids[registry+"|"+key]
		if seen {
			st.Resent++
		} else {
			e.seq++
			id = newID(registry, e.seq)
			e.ids[registry+"|"+key] = id
			st.Registered++
			st.ByKey[key]++
			st.Order = append(st.Order, key)
			st.Times = append(st.Times, time.Now())
		}
		e.mu.Unlock()

		switch {
		case seen && registry == IEMK:
			writeJSON(w, http.StatusConflict, Answer{RequestID: req.RequestID, Status: "error",
				Errors: []Error{{"XDSDuplicateUniqueIdInRegistry", "already registered"}}})
		default:
			writeJSON(w, http.StatusOK, Answer{RequestID: req.RequestID, Status: "success", ID: id})
		}
	}
}

// delay waits out the injected latency; false when the client went away.
func (e *Emulator) delay(ctx context.Context, f Faults) bool {
	if f.LatencyMax <= 0 {
		return true
	}
	d := f.LatencyMin
	if spread := f.LatencyMax - f.LatencyMin; spread > 0 {
		d += time.Duration(e.rnd() * float64(spread))
	}
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// reject counts a rejection with its codes. Call it under the lock.
func (s *Stats) reject(errs []Error) {
	s.Rejected++
	for _, e := range errs {
		s.Codes[e.Code]++
	}
}

// count changes a registry's counters under the lock.
func (e *Emulator) count(registry string, change func(*Stats)) {
	e.mu.Lock()
	change(e.stats[registry])
	e.mu.Unlock()
}

// fault picks an injected fault: an HTTP status, -1 for a timeout, 0 for none.
func (e *Emulator) fault(f Faults) (code, retryAfter int) {
	if f.Down {
		return http.StatusServiceUnavailable, 0
	}
	x := e.rnd()
	for _, c := range []struct {
		rate float64
		code int
	}{{f.RateTimeout, -1}, {f.Rate503, 503}, {f.Rate500, 500}, {f.Rate429, 429}} {
		if x < c.rate {
			if c.code == 429 {
				return 429, f.RetryAfter
			}
			return c.code, 0
		}
		x -= c.rate
	}
	return 0, 0
}

// newID mints a registry id: РЭМД's in its second documented form
// (NN.NN.NN.NN.NNNNNNNNN, e.g. 16.62.23.09.000014523), the others simply.
func newID(registry string, seq int64) string {
	if registry == REMD {
		return fmt.Sprintf("16.62.%02d.%02d.%09d", time.Now().Year()%100, int(time.Now().Month()), seq)
	}
	return fmt.Sprintf("%s-%09d", registry, seq)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = stdjson.NewEncoder(w).Encode(v)
}
