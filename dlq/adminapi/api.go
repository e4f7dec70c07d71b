package adminapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsfiles"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Base is the path every endpoint of the API starts with.
const Base = "/admin/v1"

// API serves the dead-letter operations over HTTP.
type API struct {
	svc   *dlq.Service
	users *Users
	log   *slog.Logger
	mux   *http.ServeMux
	guard *guard
	// authFailures counts failed authentications by outcome: refused
	// (401) or throttled (429, credentials not looked at).
	authFailures *prometheus.CounterVec
}

// New returns the API's handler. reg, when set, takes the API's metrics.
func New(svc *dlq.Service, users *Users, log *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{svc: svc, users: users, log: log, mux: http.NewServeMux(), guard: newGuard(time.Now),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_admin_auth_failures_total",
			Help: "Admin API calls refused for want of valid credentials: refused (401) or throttled (429, the source failed too often in the last minute).",
		}, []string{"outcome"}),
	}
	for _, o := range []string{"refused", "throttled"} {
		a.authFailures.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(a.authFailures)
	}
	a.mux.HandleFunc("GET "+Base+"/dlq/records", a.auth(dlq.ActList, a.list))
	a.mux.HandleFunc("POST "+Base+"/dlq/list", a.auth(dlq.ActList, a.list))
	a.mux.HandleFunc("GET "+Base+"/dlq/records/{topic}/{partition}/{offset}", a.auth(dlq.ActShow, a.show))
	a.mux.HandleFunc("POST "+Base+"/dlq/replay", a.auth(dlq.ActReplay, a.replay))
	a.mux.HandleFunc("POST "+Base+"/dlq/purge", a.auth(dlq.ActPurge, a.purge))
	a.mux.HandleFunc("GET "+Base+"/audit", a.auth(dlq.ActAudit, a.audit))
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, who dlq.Actor)

// auth lets a caller through to h only once it is authenticated and its
// role allows act, before anything of the request's body is read, so that
// every refusal is a 401, 403 or 429 and in the audit log whatever the
// body holds.
//
// A caller without valid credentials is refused with 401; its source's
// refusals reach the audit log as at most one record a minute, with their
// count, and a source that failed guardLimit times in a minute is answered
// 429 without its credentials being looked at. A caller whose role does
// not allow act is refused with 403 and audited.
func (a *API) auth(act dlq.Action, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		via := "api " + r.RemoteAddr
		src := source(r.RemoteAddr)
		if a.guard.throttled(src) {
			a.authFailures.WithLabelValues("throttled").Inc()
			a.auditRefused(r.Context(), act, src, a.guard.fail(src))
			w.Header().Set("Retry-After", strconv.Itoa(int(guardWindow.Seconds())))
			writeError(w, http.StatusTooManyRequests, "too many calls without valid credentials from this address: wait a minute")
			return
		}
		user, ok := a.users.Authenticate(r)
		if !ok {
			a.authFailures.WithLabelValues("refused").Inc()
			a.auditRefused(r.Context(), act, src, a.guard.fail(src))
			a.log.Warn("admin API call without valid credentials", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="egisz-gateway admin"`)
			writeError(w, http.StatusUnauthorized, "no valid credentials: send Authorization: Bearer <token>, or a client certificate")
			return
		}
		who := dlq.Actor{Name: user.Name, Role: user.Role, Via: via}
		if err := a.svc.Authorize(r.Context(), who, act); err != nil {
			a.answer(w, nil, err)
			return
		}
		h(w, r, who)
	}
}

// auditRefused writes one record of n refused calls from src, when n > 0.
func (a *API) auditRefused(ctx context.Context, act dlq.Action, src string, n int) {
	if n == 0 {
		return
	}
	anon := dlq.Actor{Name: "unauthenticated", Via: "api " + src}
	if err := a.svc.Audit(ctx, anon, topics.AuditRecord{Action: string(act), Outcome: "denied", Count: n}); err != nil {
		a.log.Error("audit of refused calls failed", "err", err)
	}
}

// filterJSON is a filter as the API takes it.
type filterJSON struct {
	dlq.Filter
	IDs []string `json:"ids,omitempty"`
}

func (f filterJSON) build() (dlq.Filter, error) {
	out := f.Filter
	for _, s := range f.IDs {
		id, err := dlq.ParseID(s)
		if err != nil {
			return out, err
		}
		out.IDs = append(out.IDs, id)
	}
	return out, nil
}

// queryFilter reads a filter from the query string: topic, reason, owner,
// source, destination, state and id (repeated, or comma-separated),
// since and until (RFC 3339), patient.
func queryFilter(q map[string][]string) (dlq.Filter, error) {
	list := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		return out
	}
	f := filterJSON{Filter: dlq.Filter{
		Topics: list("topic"), Reasons: list("reason"), Owners: list("owner"), Sources: list("source"),
		Destinations: list("destination"), States: list("state"),
	}, IDs: list("id")}
	if p := q["patient"]; len(p) > 0 {
		f.Patient = p[0]
	}
	for k, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q[k]; len(v) > 0 && v[0] != "" {
			parsed, err := time.Parse(time.RFC3339, v[0])
			if err != nil {
				return dlq.Filter{}, fmt.Errorf("%s: %q is not an RFC 3339 time", k, v[0])
			}
			*t = parsed
		}
	}
	return f.build()
}

type listBody struct {
	Filter   filterJSON `json:"filter"`
	PageSize int        `json:"page_size"`
	After    string     `json:"after"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request, who dlq.Actor) {
	var q dlq.ListQuery
	if r.Method == http.MethodPost {
		// POST keeps a patient key out of URLs and the logs that keep them.
		var b listBody
		if !readJSON(w, r, &b) {
			return
		}
		f, err := b.Filter.build()
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		q = dlq.ListQuery{Filter: f, PageSize: b.PageSize, After: b.After}
	} else {
		f, err := queryFilter(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		q.Filter, q.After = f, r.URL.Query().Get("after")
		if v := r.URL.Query().Get("page_size"); v != "" {
			if q.PageSize, err = strconv.Atoi(v); err != nil {
				writeError(w, http.StatusBadRequest, "page_size: not a number")
				return
			}
		}
	}
	res, err := a.svc.List(r.Context(), who, q)
	a.answer(w, res, err)
}

func (a *API) show(w http.ResponseWriter, r *http.Request, who dlq.Actor) {
	id, err := dlq.ParseID(r.PathValue("topic") + "/" + r.PathValue("partition") + "/" + r.PathValue("offset"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	reveal, _ := strconv.ParseBool(r.URL.Query().Get("reveal"))
	v, err := a.svc.Show(r.Context(), who, id, reveal)
	a.answer(w, v, err)
}

type replayBody struct {
	Filter filterJSON `json:"filter"`
	DryRun bool       `json:"dry_run"`
	Rate   float64    `json:"rate"`
	Reason string     `json:"reason"`
}

func (a *API) replay(w http.ResponseWriter, r *http.Request, who dlq.Actor) {
	var b replayBody
	if !readJSON(w, r, &b) {
		return
	}
	f, err := b.Filter.build()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.svc.Replay(r.Context(), who, dlq.ReplayRequest{Filter: f, DryRun: b.DryRun, Rate: b.Rate, Reason: b.Reason})
	a.answer(w, res, err)
}

type purgeBody struct {
	Filter filterJSON `json:"filter"`
	MinAge string     `json:"min_age"` // a Go duration: 72h
	Force  bool       `json:"force"`
	Reason string     `json:"reason"`
	DryRun bool       `json:"dry_run"`
}

func (a *API) purge(w http.ResponseWriter, r *http.Request, who dlq.Actor) {
	var b purgeBody
	if !readJSON(w, r, &b) {
		return
	}
	f, err := b.Filter.build()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var minAge time.Duration
	if b.MinAge != "" {
		if minAge, err = time.ParseDuration(b.MinAge); err != nil || minAge < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("min_age: %q is not a duration such as 72h", b.MinAge))
			return
		}
	}
	res, err := a.svc.Purge(r.Context(), who, dlq.PurgeRequest{Filter: f, MinAge: minAge, Force: b.Force, Reason: b.Reason, DryRun: b.DryRun})
	a.answer(w, res, err)
}

func (a *API) audit(w http.ResponseWriter, r *http.Request, who dlq.Actor) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit: a positive number")
			return
		}
		limit = n
	}
	recs, err := a.svc.ReadAudit(r.Context(), who, limit)
	a.answer(w, map[string]any{"records": recs}, err)
}

// answer writes v, or err with the status it deserves. The result of a
// replay or purge that stopped half-way is sent with the error, so the
// caller sees what was done.
func (a *API) answer(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, dlq.ErrDenied):
		status = http.StatusForbidden
	case errors.Is(err, dlq.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, dlq.ErrBadRequest):
		status = http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		a.log.Error("admin API call failed", "err", err)
	}
	writeJSON(w, status, map[string]any{"error": err.Error(), "result": v})
}

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// readJSON decodes the request's body into v strictly: one JSON value and
// nothing after it, no field v does not have, and no key twice in an
// object, however it is spelled in case (encoding/json would let the last
// of `"dry_run":true,"DRY_RUN":false` win, and run a replay for real).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = strictJSON(body, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

// strictJSON decodes body into v as readJSON describes.
func strictJSON(body []byte, v any) error {
	if err := uniqueKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// uniqueKeys refuses an object with a key twice, compared as encoding/json
// matches keys to fields: without regard to case.
func uniqueKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Each open container: a set of keys for an object, nil for an array;
	// key tells whether the object's next token is a key.
	type frame struct {
		keys map[string]bool
		key  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].keys != nil && stack[top].key {
			if k, ok := tok.(string); ok {
				fold := strings.ToLower(k)
				if stack[top].keys[fold] {
					return fmt.Errorf("key %q appears twice in an object", k)
				}
				stack[top].keys[fold] = true
				stack[top].key = false
				continue
			}
		}
		if top >= 0 && stack[top].keys != nil {
			// A value follows the key; the next token is a key again
			// once this value is complete.
			stack[top].key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if n := len(stack) - 1; n >= 0 && stack[n].keys != nil {
				stack[n].key = true
			}
		}
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON writes v. No answer of the API may be kept by a cache on the
// way: records, even masked, and revealed ones above all, are personal data.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Options say where and how the API listens.
type Options struct {
	Listen       string // host:port; loopback unless TLS is set
	CertFile     string // server certificate (PEM); HTTPS when set
	KeyFile      string
	ClientCAFile string // verify client certificates against these CAs (mTLS)
}

// Serve listens and serves h until ctx ends. ready, when set, is called
// with the address once listening.
func Serve(ctx context.Context, o Options, h http.Handler, ready func(addr string)) error {
	tlsCfg, err := serverTLS(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("admin API: listen %s: %w", o.Listen, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	if ready != nil {
		ready(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("admin API: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

func serverTLS(o Options) (*tls.Config, error) {
	if o.CertFile == "" {
		return nil, nil
	}
	cfg, err := tlsfiles.Server(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if o.ClientCAFile != "" {
		pool, err := tlsfiles.Pool(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("admin API: client CA: %w", err)
		}
		// A certificate is verified when sent; a caller may still come with
		// a bearer token instead.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
