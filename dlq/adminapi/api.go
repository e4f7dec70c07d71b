package adminapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/dlq"
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
}

// New returns the API's handler.
func New(svc *dlq.Service, users *Users, log *slog.Logger) *API {
	a := &API{svc: svc, users: users, log: log, mux: http.NewServeMux()}
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

// auth lets authenticated callers through to h. A caller without valid
// credentials is refused with 401, and the refusal is audited.
func (a *API) auth(act dlq.Action, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		via := "api " + r.RemoteAddr
		user, ok := a.users.Authenticate(r)
		if !ok {
			anon := dlq.Actor{Name: "unauthenticated", Via: via}
			if err := a.svc.Audit(r.Context(), anon, topics.AuditRecord{Action: string(act), Outcome: "denied"}); err != nil {
				a.log.Error("audit of a refused call failed", "err", err)
			}
			a.log.Warn("admin API call without valid credentials", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="egisz-gateway admin"`)
			writeError(w, http.StatusUnauthorized, "no valid credentials: send Authorization: Bearer <token>, or a client certificate")
			return
		}
		h(w, r, dlq.Actor{Name: user.Name, Role: user.Role, Via: via})
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

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
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
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin API: certificate %s: %w", o.CertFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("admin API: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("admin API: client CA %s: no PEM certificates", o.ClientCAFile)
		}
		// A certificate is verified when sent; a caller may still come with
		// a bearer token instead.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
