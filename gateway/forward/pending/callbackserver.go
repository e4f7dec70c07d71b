package pending

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/tlsserver"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// CallbackPath is where РЭМД sends its messages, SOAP over HTTP: its
// results (sendRegisterDocumentResult) and its requests for a document's
// file (getDocumentFile). One endpoint: the message's WS-Addressing Action
// says which it is. It is the ReplyTo of every call the gateway makes.
const CallbackPath = "/emdr/callback"

// Reasons a request to the callback endpoint is refused, as counted: a
// caller without a trusted client certificate (refused before its body is
// read), and a message not signed by a certificate trusted for the
// registry (seam.AuthFailures: unsigned, bad_signature, untrusted,
// expired, replayed).
const (
	refusedNoCertificate = "no_certificate"
	refusedUntrusted     = "untrusted"
	refusedNotAllowed    = "not_allowed"
)

// CallbackServer serves РЭМД's callback listener on a listener of its
// own, apart from /metrics, to callers with a client certificate of the
// configured CA only; each message must then be signed by a certificate
// trusted for the registry (the adapter's Inbound checks it): whoever
// gets a message through can settle a document. A request refused for
// either is counted by reason, and logged at most once a minute per
// source address with how many there were; it settles nothing and is not
// kept. It is the worker "remd-callback".
type CallbackServer struct {
	srv      *tlsserver.Server
	p        *Pending
	refusals *tlsserver.Refusals // callers without a trusted client certificate
	unsigned *tlsserver.Refusals // messages without a trusted signature
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
	c := &CallbackServer{srv: srv, p: p, refusals: tlsserver.NewRefusals(p.cfg.Now), unsigned: tlsserver.NewRefusals(p.cfg.Now), mux: http.NewServeMux()}
	c.mux.HandleFunc("POST "+CallbackPath, c.serveInbound)
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

// serveInbound reads a message (bounded), has the registry's adapter
// authenticate and read it, and acts on it: a result settles its
// document, a file request is answered from the document store.
func (c *CallbackServer) serveInbound(w http.ResponseWriter, r *http.Request) {
	p, src := c.p, tlsserver.Source(r.RemoteAddr)
	body, err := readInbound(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			p.m.callbacks.WithLabelValues("too_large").Inc()
			p.fail(w, r, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		p.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	in, err := p.stage.Inbound(r.Context(), r.Header.Get("Content-Type"), body)
	if failure, ok := seam.AuthFailureOf(err); ok {
		c.refuseMessage(w, r, string(failure))
		return
	}
	if err != nil {
		// The adapter's errors carry no personal data; the caller learns
		// what did not read, the log nothing (a flood of garbage is
		// counted, not logged).
		p.m.callbacks.WithLabelValues("invalid").Inc()
		p.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	switch in.Kind {
	case seam.InboundResult:
		p.serveResult(w, r, src, in)
	case seam.InboundFileRequest:
		p.serveFile(w, r, in)
	default:
		p.m.callbacks.WithLabelValues("invalid").Inc()
		p.fail(w, r, http.StatusBadRequest, "not a message this endpoint takes")
	}
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
	c.refused(w, r, c.refusals, reason, "РЭМД callback endpoint refused requests without a trusted client certificate")
	http.Error(w, "a client certificate of РЭМД is required", status)
}

// refuseMessage answers 403 to a message the registry's adapter did not
// authenticate (unsigned, wrongly signed, by a certificate not trusted,
// expired, replayed), for reason. It acts on nothing: not settled, not
// kept as an orphan, no file served.
func (c *CallbackServer) refuseMessage(w http.ResponseWriter, r *http.Request, reason string) {
	c.refused(w, r, c.unsigned, reason, "РЭМД callback endpoint refused messages not signed by a trusted registry certificate")
	c.p.fail(w, r, http.StatusForbidden, "the message is not signed by a certificate trusted for РЭМД")
}

// refused counts a refusal for reason and, at most once a minute per
// source (rs), logs and audits how many there were, with what. The
// reason only, never the error: a verification error may quote a
// certificate's subject, which can be a person's name. The connection is
// closed after the answer.
func (c *CallbackServer) refused(w http.ResponseWriter, r *http.Request, rs *tlsserver.Refusals, reason, what string) {
	c.p.m.refused.WithLabelValues(reason).Inc()
	src := tlsserver.Source(r.RemoteAddr)
	if n := rs.Refuse(src); n > 0 {
		c.p.cfg.Log.Warn(what, "source", src, "refused", n, "reason", reason, "since", "the last such record of this source (at most one a minute)")
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
}
