package destination

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Adapter is one registry as the forward stage calls it (it implements
// gateway/forward.Destination): the REST shapes of this package, no
// signature, no callbacks. РЭМД is adapters/remd's.
type Adapter struct {
	name topics.Registry
	cls  Classifier
	cat  *reasons.Catalog
}

// NewAdapter returns the adapter of registry name.
func NewAdapter(name topics.Registry) Adapter {
	return Adapter{name: name, cls: NewClassifier(), cat: reasons.Default()}
}

// Build turns an outbound record's value into the registry call.
func (a Adapter) Build(value []byte, ceID, _ string) (seam.Call, error) {
	ev, _, err := topics.SplitOutboundWith(value, json.Unmarshal)
	if err != nil {
		return seam.Call{}, err
	}
	return Build(a.name, ev, ceID)
}

// Sign returns call as it is: the REST shapes carry no signature. The
// SOAP registries' adapters sign here.
func (Adapter) Sign(_ context.Context, call seam.Call) (seam.Call, error) { return call, nil }

// Classify reads the answer to call.
func (a Adapter) Classify(call seam.Call, status int, retryAfter string, body []byte) seam.Outcome {
	return a.cls.Classify(status, retryAfter, body)
}

// TransportFailure is the outcome of a call that got no answer.
func (a Adapter) TransportFailure(err error) seam.Outcome { return a.cls.TransportFailure(err) }

// Lookup offers none: a REST registry's "already registered" answer is
// taken as success.
func (Adapter) Lookup(seam.Call) (seam.Call, bool) { return seam.Call{}, false }

// Capabilities: the REST registries answer at once.
func (Adapter) Capabilities() seam.Capabilities { return seam.Capabilities{} }

// ErrNoInbound: the REST shapes take no messages from a registry; РЭМД's
// callbacks and file requests are signed SOAP, read by adapters/remd.
var ErrNoInbound = errors.New("this registry adapter takes no inbound messages")

// Inbound refuses every message: the REST registries send none.
func (a Adapter) Inbound(context.Context, string, []byte) (seam.Inbound, error) {
	return seam.Inbound{}, fmt.Errorf("%s: %w", a.name, ErrNoInbound)
}

// Answer is 404: there is nothing here to answer.
func (Adapter) Answer(context.Context, seam.Inbound, seam.File) seam.Answer {
	return seam.Answer{Status: http.StatusNotFound, ContentType: "text/plain; charset=utf-8", Body: []byte("no inbound messages here\n")}
}

// Reason is a catalog reason of the gateway's own, by code.
func (a Adapter) Reason(code string) topics.Reason {
	rs := a.cat.Resolve(code)
	return topics.Reason{Code: rs.Code, Owner: string(rs.Owner), Retryable: rs.Retryable(), MessageRU: rs.RU, MessageEN: rs.EN}
}
