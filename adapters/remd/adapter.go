package remd

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Config configures the РЭМД adapter.
type Config struct {
	// ClientEntityID is the information system's GUID in ИПС, sent in
	// every request's transportHeader.
	ClientEntityID string
	// To is the ИПС address of РЭМД's service: the requests' wsa:To.
	To string
	// Signer signs every request (WS-Security, ГОСТ in production).
	Signer signer.Signer
	// Version is the SOAP version of the requests; zero means SOAP 1.2,
	// which РЭМД speaks [PROTOCOLS.md §1].
	Version wssec.Version
	// Inbox reads and answers what РЭМД sends to the callback listener.
	Inbox *Inbox
	// Now is the clock of the requests' Timestamps and of Retry-After
	// dates (default time.Now).
	Now func() time.Time
}

// ErrConfig marks a Config New refuses.
var ErrConfig = errors.New("remd: bad configuration")

// Adapter is РЭМД through ИПС as the forward stage calls it (it implements
// gateway/forward.Destination): registerDocument and searchRegistryItem as
// signed SOAP, their answers read through the reason catalog, and, through
// the embedded Inbox, the callbacks and file requests РЭМД sends back.
type Adapter struct {
	*Inbox
	version   wssec.Version
	to        string
	signer    signer.Signer
	transport []byte // the transportHeader block, the same in every request
	cls       classifier
}

// New checks cfg and returns the adapter.
func New(cfg Config) (*Adapter, error) {
	if cfg.Version == 0 {
		cfg.Version = wssec.SOAP12
	}
	if cfg.Version.Namespace() == "" {
		return nil, fmt.Errorf("remd adapter: SOAP version %v: %w", cfg.Version, ErrConfig)
	}
	if !ident.ValidUUID(cfg.ClientEntityID) {
		return nil, fmt.Errorf("remd adapter: client entity id is not a GUID: %w", ErrConfig)
	}
	if u, err := url.Parse(cfg.To); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("remd adapter: To %q is not an absolute URL: %w", cfg.To, ErrConfig)
	}
	if cfg.Signer == nil || cfg.Signer.Certificate() == nil {
		return nil, fmt.Errorf("remd adapter: no signer with a certificate: %w", ErrConfig)
	}
	if cfg.Inbox == nil {
		return nil, fmt.Errorf("remd adapter: no inbox for the callback listener: %w", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var th bytes.Buffer
	th.WriteString(`<egisz:` + ElemTransportHeader + ` xmlns:egisz="` + NamespaceTransport + `"><egisz:` + ElemAuthInfo + `><egisz:` + ElemClientEntityID + `>`)
	_ = xml.EscapeText(&th, []byte(cfg.ClientEntityID))
	th.WriteString(`</egisz:` + ElemClientEntityID + `></egisz:` + ElemAuthInfo + `></egisz:` + ElemTransportHeader + `>`)
	return &Adapter{
		Inbox: cfg.Inbox, version: cfg.Version, to: cfg.To, signer: cfg.Signer, transport: th.Bytes(),
		cls: classifier{cls: destination.NewClassifier(), now: cfg.Now},
	}, nil
}

// headerReplyTo carries a built call's ReplyTo (the gateway's callback
// address) from Build to Sign, which takes it out: it is the envelope's,
// not an HTTP header.
const headerReplyTo = "X-Egisz-Reply-To"

// Build turns an outbound record's value (a document or a lab result)
// into the registerDocument call: its body is the unsigned request
// element; Sign makes the envelope.
func (a *Adapter) Build(value []byte, ceID, callbackURL string) (seam.Call, error) {
	// Either missing would fail every send (Sign) or lose every result
	// (ReplyTo), so the event is refused here, once, naming the cause.
	if ceID == "" {
		return seam.Call{}, fmt.Errorf("build registerDocument: no event id for the MessageID: %w", ErrUnbuildable)
	}
	if callbackURL == "" {
		return seam.Call{}, fmt.Errorf("build registerDocument: no callback address for ReplyTo (РЭМД answers there): %w", ErrUnbuildable)
	}
	ev, raw, err := topics.SplitOutboundWith(value, json.Unmarshal)
	if err != nil {
		return seam.Call{}, err
	}
	req, err := requestOf(ev, raw)
	if err != nil {
		return seam.Call{}, fmt.Errorf("build registerDocument: %w", err)
	}
	body, err := marshal(req)
	if err != nil {
		return seam.Call{}, fmt.Errorf("build registerDocument: %w", err)
	}
	return seam.Call{
		Method: http.MethodPost, Body: body, IdempotencyKey: ceID,
		Header: map[string]string{headerReplyTo: callbackURL},
	}, nil
}

// Sign wraps a built call in its signed envelope, with a fresh Timestamp:
// it runs before every send. registerDocument carries the event's
// MessageID (seam.MessageID), so РЭМД's callback names the event, and
// the gateway's callback address as ReplyTo and FaultTo; a lookup is
// answered at once (anonymous ReplyTo) and has a MessageID of its own.
func (a *Adapter) Sign(ctx context.Context, call seam.Call) (seam.Call, error) {
	addr := wssec.Addressing{To: a.to}
	if call.Lookup {
		id, err := newMessageID()
		if err != nil {
			return seam.Call{}, fmt.Errorf("sign %s: %w", ActionSearchRegistryItem, err)
		}
		addr.Action, addr.MessageID, addr.ReplyTo = ActionSearchRegistryItem, id, wssec.AnonymousAddress
	} else {
		if call.IdempotencyKey == "" {
			return seam.Call{}, fmt.Errorf("sign registerDocument: the call has no event id: %w", ErrUnbuildable)
		}
		addr.Action, addr.MessageID = ActionRegisterDocument, seam.MessageID(call.IdempotencyKey, call.Send)
		addr.ReplyTo = call.Header[headerReplyTo]
		if addr.ReplyTo == "" {
			return seam.Call{}, fmt.Errorf("sign registerDocument: the call has no callback address: %w", ErrUnbuildable)
		}
		addr.FaultTo = addr.ReplyTo
	}
	env, err := wssec.Sign(ctx, a.signer, wssec.Envelope{Version: a.version, Headers: [][]byte{a.transport}, Addressing: addr, Body: call.Body},
		wssec.SignOptions{Now: a.cls.now()})
	if err != nil {
		return seam.Call{}, fmt.Errorf("sign %s: %w", addr.Action, err)
	}
	out := call
	out.Body = env
	out.Header = maps.Clone(call.Header)
	if out.Header == nil {
		out.Header = map[string]string{}
	}
	delete(out.Header, headerReplyTo)
	if a.version == wssec.SOAP12 {
		out.Header["Content-Type"] = a.version.ContentType() + `; action="` + addr.Action + `"`
	} else {
		out.Header["Content-Type"] = a.version.ContentType()
		out.Header[HeaderSOAPAction] = `"` + addr.Action + `"`
	}
	return out, nil
}

// Classify reads the answer to call: registerDocument's (accepted, or a
// failure by its codes, its fault or its status) or a lookup's.
func (a *Adapter) Classify(call seam.Call, status int, retryAfter string, body []byte) seam.Outcome {
	if call.Lookup {
		return a.cls.lookup(searchedUID(call), status, retryAfter, body)
	}
	return a.cls.register(status, retryAfter, body)
}

// TransportFailure is the outcome of a call that got no answer.
func (a *Adapter) TransportFailure(err error) seam.Outcome { return a.cls.cls.TransportFailure(err) }

// Lookup is the reconciliation call for a registerDocument call:
// searchRegistryItem by its localUid.
func (a *Adapter) Lookup(call seam.Call) (seam.Call, bool) { return lookupCall(call) }

// Capabilities: РЭМД answers on a callback and fetches the files.
func (a *Adapter) Capabilities() seam.Capabilities {
	return seam.Capabilities{Callbacks: true, Files: true}
}

// Reason is a catalog reason of the gateway's own, by code.
func (a *Adapter) Reason(code string) topics.Reason { return a.cls.cls.Reason(code, "") }
