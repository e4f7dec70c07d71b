// Package destination turns validated events into calls to the federal
// registries and the registries' answers into outcomes: registered (with
// the registry's id), accepted and waiting for РЭМД's callback, to retry,
// to park with the registry's codes, or already there (reconcile). It knows
// the registries' request and answer shapes (domain/EGISZ.md §1, the REST
// shapes the registry emulator speaks), not how HTTP is sent: the forward
// stage in gateway/ does that.
package destination

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// answer is the registries' answer body (the emulator's and the REST
// wrapper's shape).
type answer struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Classifier maps answers to outcomes through the reason catalog.
type Classifier struct{ catalog *reasons.Catalog }

// NewClassifier returns a classifier over the gateway's reason catalog.
func NewClassifier() Classifier { return Classifier{catalog: reasons.Default()} }

// Classify reads one answer of a REST registry: a success is registered
// at once (РЭМД, whose success only means "accepted", is adapters/remd's).
func (c Classifier) Classify(status int, retryAfter string, body []byte) seam.Outcome {
	out := seam.Outcome{HTTPStatus: status, RetryAfter: seam.ParseRetryAfter(retryAfter, time.Now())}
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not JSON leaves the status to decide
	if status >= 200 && status < 300 && a.Status != "error" {
		out.Result, out.RegistryID = seam.Registered, a.ID
		return out
	}
	out.Excerpt = Excerpt(body)
	if len(a.Errors) > 0 {
		errs := make([]RegistryError, len(a.Errors))
		for i, e := range a.Errors {
			errs[i] = RegistryError{Code: e.Code, Message: e.Message}
		}
		out.Result, out.Reasons = c.ByCodes(status, errs)
		return out
	}
	out.Result, out.Reasons = c.ByStatus(status, fmt.Sprintf("HTTP %d", status))
	return out
}

// ByCodes reads a failed answer by the registry's own codes, through the
// reason catalog: reconcile over retry over park; and a 429 or 5xx with
// only codes we would park is still retried, as the registry's trouble.
// Every adapter of a registry that sends codes decides through it.
func (c Classifier) ByCodes(status int, errs []RegistryError) (seam.Result, []topics.Reason) {
	result := seam.Park
	out := make([]topics.Reason, 0, len(errs))
	for _, e := range errs {
		r := c.catalog.Resolve(e.Code)
		out = append(out, topicReason(r, e.Message))
		switch {
		case r.Action == reasons.Reconcile:
			result = seam.Reconcile
		case r.Action == reasons.Retry && result != seam.Reconcile:
			result = seam.Retry
		}
	}
	if result == seam.Park && (status == http.StatusTooManyRequests || status >= 500) {
		result = seam.Retry
	}
	return result, out
}

// ByStatus reads a failed answer that carries no codes by its HTTP
// status: 429, 408 and 5xx are retried, 401/403 and other 4xx parked.
// detail is added to the reason's English text.
func (c Classifier) ByStatus(status int, detail string) (seam.Result, []topics.Reason) {
	code, result := reasons.HTTPClientError, seam.Park
	switch {
	case status == http.StatusTooManyRequests:
		code, result = reasons.HTTPTooManyRequests, seam.Retry
	case status >= 500 || status == http.StatusRequestTimeout:
		code, result = reasons.HTTPServerError, seam.Retry
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		code = reasons.HTTPUnauthorized
	}
	return result, []topics.Reason{topicReason(c.catalog.Resolve(code), detail)}
}

// Reason is the catalog's reason for code as a status reason, with detail
// added to its English text.
func (c Classifier) Reason(code, detail string) topics.Reason {
	return topicReason(c.catalog.Resolve(code), detail)
}

// excerptLen bounds the answer kept in a DLQ header.
const excerptLen = 512

// Excerpt is the start of a registry's answer for the DLQ, with anything
// that may be a personal number masked: registries echo the patient.
func Excerpt(body []byte) string {
	if len(body) > excerptLen {
		body = body[:excerptLen]
	}
	s := strings.ToValidUTF8(string(body), "")
	return ident.ScrubDigits(s)
}

// TransportFailure is the outcome of a call that got no answer at all.
func (c Classifier) TransportFailure(err error) seam.Outcome {
	return seam.Outcome{Result: seam.Retry, Reasons: []topics.Reason{topicReason(c.catalog.Resolve(reasons.TransportError), err.Error())}}
}

func topicReason(r reasons.Reason, detail string) topics.Reason {
	t := topics.Reason{Code: r.Code, Owner: string(r.Owner), Retryable: r.Retryable(), MessageRU: r.RU, MessageEN: r.EN}
	if detail != "" {
		t.MessageEN += ": " + detail
	}
	return t
}

// callBody is the request every registry gets here, before the payload.
type callBody struct {
	RequestID string          `json:"request_id"`
	Kind      string          `json:"kind"`
	Version   int64           `json:"version"`
	Update    bool            `json:"update"`
	Action    string          `json:"action,omitempty"`
	Patient   json.RawMessage `json:"patient,omitempty"`
}

// Build turns an outbound event into the call to its REST registry
// (ИЭМК and the prescriptions registry until they get their own
// protocols' adapters; РЭМД is adapters/remd's).
func Build(registry topics.Registry, ev topics.OutboundEvent, ceID string) (seam.Call, error) {
	raw, ok := ev.Event.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(ev.Event)
		if err != nil {
			return seam.Call{}, fmt.Errorf("build %s call: %w", registry, err)
		}
		raw = b
	}
	var view struct {
		Patient json.RawMessage `json:"patient"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		return seam.Call{}, fmt.Errorf("build %s call: %w", registry, err)
	}
	body := callBody{RequestID: ceID, Kind: ev.Kind, Version: ev.Version, Update: ev.Update, Patient: view.Patient}
	call := seam.Call{Method: http.MethodPost, IdempotencyKey: ceID}
	switch {
	case registry == topics.RegistryIEMK && ev.Kind == "case":
		call.Path = "/iemk/cases"
		body.Action = "add"
		if ev.Update {
			body.Action = "update"
		}
	case registry == topics.RegistryIEMK && ev.Kind == "lab_result":
		call.Path = "/iemk/labResults"
	case registry == topics.RegistryERX && ev.Kind == "prescription":
		call.Path = "/erx/prescriptions"
	case registry == topics.RegistryERX && ev.Kind == "dispensation":
		call.Path = "/erx/dispensations"
	default:
		return seam.Call{}, fmt.Errorf("build call: %s does not take %s events", registry, ev.Kind)
	}
	head, err := json.Marshal(body)
	if err != nil {
		return seam.Call{}, fmt.Errorf("build %s call: %w", registry, err)
	}
	// The payload is spliced in as it is: it is the normalize stage's
	// compact JSON, and encoding/json would scan and compact it again.
	call.Body = make([]byte, 0, len(head)+len(raw)+16)
	call.Body = append(call.Body, head[:len(head)-1]...)
	call.Body = append(call.Body, `,"payload":`...)
	call.Body = append(call.Body, raw...)
	call.Body = append(call.Body, '}')
	return call, nil
}
