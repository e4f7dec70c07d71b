package pending

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/tlsserver"
)

// CallbackPath is where РЭМД posts its results.
const CallbackPath = "/emdr/callback"

// Reasons a request to the callback endpoint is refused, as counted.
const (
	refusedNoCertificate = "no_certificate"
	refusedUntrusted     = "untrusted"
	refusedNotAllowed    = "not_allowed"
)

// CallbackServer serves РЭМД's callback on a listener of its own, apart
// from /metrics, to callers with a client certificate of the configured
// CA only: whoever reaches the handler can settle a document. Any other
// request is refused before its body is read, counted, and logged at most
// once a minute per source address with how many there were; it settles
// nothing and is not kept. It is the worker "remd-callback".
type CallbackServer struct {
	srv      *tlsserver.Server
	p        *Pending
	refusals *tlsserver.Refusals
	mux      *http.ServeMux
	audit    RefusalAuditor
}

// RefusalAuditor records, in the audit log, count refused requests from
// source since its last record, for the reason given.
type RefusalAuditor func(ctx context.Context, source, reason string, count int) error

// AuditRefusals makes the server write its refusals to the audit log too,
// as it logs them: at most one record a minute per source, with the count.
func (c *CallbackServer) AuditRefusals(a RefusalAuditor) { c.audit = a }

// NewCallbackServer serves p's callback on srv, a bound listener (whose
// address the forward stage's callback URL names: bind it first).
func NewCallbackServer(srv *tlsserver.Server, p *Pending) (*CallbackServer, error) {
	if srv == nil || p == nil {
		return nil, errors.New("РЭМД callback server: a listener and the pending documents are required")
	}
	if !srv.MutualTLS() {
		return nil, errors.New("РЭМД callback server: mTLS is required (a server certificate and a client CA): whoever reaches it settles documents")
	}
	c := &CallbackServer{srv: srv, p: p, refusals: tlsserver.NewRefusals(p.cfg.Now), mux: http.NewServeMux()}
	c.mux.HandleFunc("POST "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, tlsserver.Source(r.RemoteAddr))
	})
	return c, nil
}

// Name names the worker.
func (c *CallbackServer) Name() string { return "remd-callback" }

// Ready is nil: the listener is bound before the server is made.
func (c *CallbackServer) Ready() error { return nil }

// Addr is where the server listens.
func (c *CallbackServer) Addr() string { return c.srv.Addr() }

// Run serves until ctx ends.
func (c *CallbackServer) Run(ctx context.Context) error { return c.srv.Serve(ctx, c) }

// ServeHTTP authenticates the caller, then routes the request.
func (c *CallbackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, err := c.srv.Authenticate(r); err != nil {
		c.refuse(w, r, err)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// refuse answers a caller that did not authenticate: 401 without a
// certificate, 403 with one that is not trusted or not allowed. The body
// is left unread and the connection closed, so a refused caller costs a
// header's worth of reading.
func (c *CallbackServer) refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason, status := refusedUntrusted, http.StatusForbidden
	switch {
	case errors.Is(err, tlsserver.ErrNoCertificate):
		reason, status = refusedNoCertificate, http.StatusUnauthorized
	case errors.Is(err, tlsserver.ErrNotAllowed):
		reason = refusedNotAllowed
	}
	c.p.m.refused.WithLabelValues(reason).Inc()
	src := tlsserver.Source(r.RemoteAddr)
	if n := c.refusals.Refuse(src); n > 0 {
		// The reason only, not err: a verification error may quote a
		// certificate's subject, which can be a person's name.
		c.p.cfg.Log.Warn("РЭМД callback endpoint refused requests without a trusted client certificate",
			"source", src, "refused", n, "reason", reason, "since", "the last such record of this source (at most one a minute)")
		if c.audit != nil {
			// The caller waits for the record: at most once a minute per
			// source, and bounded, so a slow cluster cannot hold it long.
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			if err := c.audit(ctx, src, reason, n); err != nil {
				c.p.cfg.Log.Error("audit of refused РЭМД callback requests failed", "source", src, "refused", n, "err", err)
			}
			cancel()
		}
	}
	w.Header().Set("Connection", "close")
	http.Error(w, "a client certificate of РЭМД is required", status)
}
