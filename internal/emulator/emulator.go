// Package emulator answers as the federal registries do, for tests and for
// `egisz-gateway dev`: РЭМД registers documents asynchronously (an
// "accepted" answer at once, the registration number or error codes later
// on the sender's callback), ИЭМК takes cases, the prescription registry
// takes prescriptions and dispensations. Requests and answers follow the
// REST shapes of domain/EGISZ.md §1 (the medflex wrapper over РЭМД).
//
// It checks idempotency keys as the registries do (a re-send of a
// registered document is NOT_UNIQUE_PROVIDED_ID), injects faults on
// request (latency, 5xx, 429 with Retry-After, timeouts, dropped
// callbacks, chosen rejection codes for chosen patients) and counts what
// it received so tests can check.
package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	stdjson "encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

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
	// Reject answers these patients (by СНИЛС) with this registry code.
	Reject map[string]string `json:"reject"`
	// Unavailable answers every request for these patients (by СНИЛС) 503:
	// a transient failure that outlasts the retries in place.
	Unavailable []string `json:"unavailable"`
	// CallbackDelay is how long РЭМД takes to send its result.
	CallbackDelay time.Duration `json:"callback_delay"`
	// Down answers every request 503 (a full outage).
	Down bool `json:"down"`
}

// Stats counts what one registry received.
type Stats struct {
	Requests   int            `json:"requests"`   // every request, faults included
	Registered int            `json:"registered"` // distinct idempotency keys accepted
	Resent     int            `json:"resent"`     // requests with a key already registered
	Rejected   int            `json:"rejected"`   // answered with a registry error code
	Faulted    int            `json:"faulted"`    // answered with an injected fault
	Callbacks  int            `json:"callbacks"`  // РЭМД results delivered
	ByKey      map[string]int `json:"by_key"`     // idempotency key -> accepted requests
	Order      []string       `json:"order"`      // idempotency keys in the order they were accepted
	Times      []time.Time    `json:"-"`          // when each accepted request arrived
}

// Error is one registry error in an answer.
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

// Callback is РЭМД's asynchronous result.
type Callback struct {
	ResponseToRequestID  string  `json:"response_to_request_id"`
	MessageType          string  `json:"message_type"`
	LocalUID             string  `json:"local_uid"`
	Status               string  `json:"status"` // success | error
	EMDRID               string  `json:"emdr_id,omitempty"`
	RegistrationDateTime string  `json:"registration_date_time,omitempty"`
	Errors               []Error `json:"errors,omitempty"`
}

// Request is what the emulator reads of any registration: the rest of the
// body is the registry's business and is kept only for counting.
type Request struct {
	RequestID   string `json:"request_id"`
	LocalUID    string `json:"local_uid"` // РЭМД's idempotency key
	CallbackURL string `json:"callback_url"`
	Patient     struct {
		SNILS string `json:"snils"`
	} `json:"patient"`
}

// Emulator is the registries' HTTP server logic.
type Emulator struct {
	log    *slog.Logger
	client *http.Client
	rnd    func() float64

	mu       sync.Mutex
	faults   map[string]Faults
	stats    map[string]*Stats
	ids      map[string]string // registry|key -> registry id
	seq      int64
	pending  sync.WaitGroup
	closing  chan struct{}
	callback string // default РЭМД callback URL
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
func callbackClient(tlsCfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = callbackConns, callbackConns, callbackConns
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// New returns an emulator; callbackURL is where РЭМД results go when a
// request names none.
func New(callbackURL string, log *slog.Logger) *Emulator {
	if log == nil {
		log = slog.Default()
	}
	e := &Emulator{
		log: log, client: callbackClient(nil), rnd: rand.Float64,
		faults: map[string]Faults{}, stats: map[string]*Stats{}, ids: map[string]string{},
		closing: make(chan struct{}), callback: callbackURL,
	}
	for _, r := range []string{REMD, IEMK, ERX} {
		e.stats[r] = &Stats{ByKey: map[string]int{}}
	}
	return e
}

// WithCallbackTLS makes РЭМД's callbacks authenticate with the client
// certificate of c and trust the servers c trusts, as the gateway's mTLS
// callback endpoint requires. Call it before the emulator serves.
func (e *Emulator) WithCallbackTLS(c *tls.Config) *Emulator {
	e.client = callbackClient(c)
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
	s.ByKey = make(map[string]int, len(e.stats[registry].ByKey))
	for k, v := range e.stats[registry].ByKey {
		s.ByKey[k] = v
	}
	s.Times = append([]time.Time(nil), e.stats[registry].Times...)
	s.Order = append([]string(nil), e.stats[registry].Order...)
	return s
}

// Close stops sending callbacks and waits for those in flight.
func (e *Emulator) Close() {
	close(e.closing)
	e.pending.Wait()
	e.client.CloseIdleConnections()
}

// Handler serves the registries and the admin endpoints:
//
//	POST /remd/registerDocument        РЭМД: accepted now, result on the callback
//	GET  /remd/registryItem?local_uid= РЭМД: the registration of a document (reconciliation)
//	POST /iemk/cases                   ИЭМК: add, update or close a case
//	POST /iemk/labResults              ИЭМК: a lab result
//	POST /erx/prescriptions            the prescription registry
//	POST /erx/dispensations
//	PUT  /admin/faults/{registry}      set faults (JSON Faults)
//	GET  /admin/stats/{registry}       counters (JSON Stats)
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /remd/registerDocument", e.register(REMD))
	mux.HandleFunc("GET /remd/registryItem", e.registryItem)
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

// register handles a registration at one registry. The idempotency key is
// the Idempotency-Key header (the event's ce_id), or РЭМД's local_uid.
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
		if registry == REMD && req.LocalUID != "" {
			key = req.LocalUID
		}
		e.mu.Lock()
		f := e.faults[registry]
		st := e.stats[registry]
		st.Requests++
		e.mu.Unlock()

		if d := f.LatencyMax - f.LatencyMin; f.LatencyMax > 0 {
			delay := f.LatencyMin
			if d > 0 {
				delay += time.Duration(e.rnd() * float64(d))
			}
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if code, retryAfter := e.fault(f); code != 0 {
			e.mu.Lock()
			st.Faulted++
			e.mu.Unlock()
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
			e.mu.Lock()
			st.Faulted++
			e.mu.Unlock()
			writeJSON(w, http.StatusServiceUnavailable, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{"RUNTIME_ERROR", "Невозможно обработать запрос (injected)"}}})
			return
		}
		if key == "" {
			writeJSON(w, http.StatusBadRequest, Answer{RequestID: req.RequestID, Status: "error", Errors: []Error{{"VALIDATION_ERROR", "no idempotency key (Idempotency-Key header or local_uid)"}}})
			return
		}
		if code, ok := f.Reject[req.Patient.SNILS]; ok && req.Patient.SNILS != "" {
			e.mu.Lock()
			st.Rejected++
			e.mu.Unlock()
			e.answerRejection(w, registry, req, code)
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
		case seen && registry == REMD:
			// As РЭМД does: the document is already registered.
			writeJSON(w, http.StatusConflict, Answer{RequestID: req.RequestID, Status: "error",
				Errors: []Error{{"NOT_UNIQUE_PROVIDED_ID", "Документ с указанным идентификатором (в РМИС/МИС) уже зарегистрирован"}}})
		case seen && registry == IEMK:
			writeJSON(w, http.StatusConflict, Answer{RequestID: req.RequestID, Status: "error",
				Errors: []Error{{"XDSDuplicateUniqueIdInRegistry", "already registered"}}})
		case registry == REMD:
			writeJSON(w, http.StatusOK, Answer{RequestID: req.RequestID, Status: "success"})
			e.sendCallback(req, f, Callback{ResponseToRequestID: req.RequestID, MessageType: "registerDocumentResult",
				LocalUID: req.LocalUID, Status: "success", EMDRID: id, RegistrationDateTime: time.Now().Format(time.RFC3339Nano)})
		default:
			writeJSON(w, http.StatusOK, Answer{RequestID: req.RequestID, Status: "success", ID: id})
		}
	}
}

// answerRejection answers a chosen rejection: РЭМД accepts and rejects in
// its callback, as it does after its full checks; the others answer at once.
func (e *Emulator) answerRejection(w http.ResponseWriter, registry string, req Request, code string) {
	errs := []Error{{code, "rejected by the emulator for this patient"}}
	if registry == REMD {
		writeJSON(w, http.StatusOK, Answer{RequestID: req.RequestID, Status: "success"})
		e.mu.Lock()
		f := e.faults[REMD]
		e.mu.Unlock()
		e.sendCallback(req, f, Callback{ResponseToRequestID: req.RequestID, MessageType: "registerDocumentResult",
			LocalUID: req.LocalUID, Status: "error", Errors: errs})
		return
	}
	writeJSON(w, http.StatusUnprocessableEntity, Answer{RequestID: req.RequestID, Status: "error", Errors: errs})
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

func (e *Emulator) sendCallback(req Request, f Faults, cb Callback) {
	if f.RateDropCallbk > 0 && e.rnd() < f.RateDropCallbk {
		return
	}
	url := req.CallbackURL
	if url == "" {
		url = e.callback
	}
	if url == "" {
		return
	}
	e.pending.Add(1)
	go func() {
		defer e.pending.Done()
		select {
		case <-time.After(f.CallbackDelay):
		case <-e.closing:
			return
		}
		body, _ := json.Marshal(cb)
		for attempt := 0; attempt < 5; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			hreq.Header.Set("Content-Type", "application/json")
			resp, err := e.client.Do(hreq)
			cancel()
			if err == nil {
				// Read to the end, or the connection is not reused.
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				if resp.StatusCode < 300 {
					e.mu.Lock()
					e.stats[REMD].Callbacks++
					e.mu.Unlock()
					return
				}
			}
			select {
			case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
			case <-e.closing:
				return
			}
		}
		e.log.Warn("РЭМД callback not delivered", "url", url, "request_id", cb.ResponseToRequestID)
	}()
}

// registryItem answers a reconciliation lookup of a registered document.
func (e *Emulator) registryItem(w http.ResponseWriter, r *http.Request) {
	uid := r.URL.Query().Get("local_uid")
	e.mu.Lock()
	id, ok := e.ids[REMD+"|"+uid]
	e.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, Answer{Status: "error", Errors: []Error{{"OBJECT_NOT_FOUND", "no such document"}}})
		return
	}
	writeJSON(w, http.StatusOK, Answer{Status: "success", EMDRID: id})
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
