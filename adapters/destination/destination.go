// Package destination turns validated events into calls to the federal
// registries and the registries' answers into outcomes: registered (with
// the registry's id), accepted and waiting for РЭМД's callback, to retry,
// to park with the registry's codes, or already there (reconcile). It knows
// the registries' request and answer shapes (domain/EGISZ.md §1, the REST
// shapes the registry emulator speaks), not how HTTP is sent: the forward
// stage in gateway/ does that.
package destination

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	EMDRID string `json:"emdr_id"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Classifier maps answers to outcomes through the reason catalog.
type Classifier struct{ catalog *reasons.Catalog }

// NewClassifier returns a classifier over the gateway's reason catalog.
func NewClassifier() Classifier { return Classifier{catalog: reasons.Default()} }

// Classify reads one answer. async is true for РЭМД, whose synchronous
// success only means "accepted".
func (c Classifier) Classify(status int, retryAfter string, body []byte, async bool) seam.Outcome {
	out := seam.Outcome{HTTPStatus: status, RetryAfter: seam.ParseRetryAfter(retryAfter, time.Now())}
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not JSON leaves the status to decide
	if status >= 200 && status < 300 && a.Status != "error" {
		if async {
			out.Result = seam.Accepted
			return out
		}
		out.Result, out.RegistryID = seam.Registered, firstNonEmpty(a.ID, a.EMDRID)
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

// ClassifyLookup reads the answer to a Lookup: the registration with its
// id, none (404 or OBJECT_NOT_FOUND), or a failure as Classify reads it.
func (c Classifier) ClassifyLookup(status int, retryAfter string, body []byte) seam.Outcome {
	var a answer
	_ = json.Unmarshal(body, &a)
	if status == http.StatusNotFound || (len(a.Errors) > 0 && a.Errors[0].Code == "OBJECT_NOT_FOUND") {
		return seam.Outcome{Result: seam.NotFound, HTTPStatus: status}
	}
	return c.Classify(status, retryAfter, body, false)
}

// Lookup is the call that finds what the registry holds for call:
// РЭМД's registry item by the document's localUid. The other registries
// offer none here; their "already registered" answer is taken as success.
func Lookup(registry topics.Registry, call seam.Call) (seam.Call, bool) {
	if registry != topics.RegistryREMD || call.Path != "/remd/registerDocument" {
		return seam.Call{}, false
	}
	var doc struct {
		LocalUID string `json:"local_uid"`
	}
	if json.Unmarshal(call.Body, &doc) != nil || doc.LocalUID == "" {
		return seam.Call{}, false
	}
	return seam.Call{Method: http.MethodGet, Path: "/remd/registryItem?local_uid=" + url.QueryEscape(doc.LocalUID), IdempotencyKey: call.IdempotencyKey, Lookup: true}, true
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

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// CallbackResult is РЭМД's asynchronous answer for one document.
type CallbackResult struct {
	RequestID  string
	LocalUID   string
	Registered bool
	EMDRID     string
	Reasons    []topics.Reason
	Retry      bool // the errors are worth sending the document again for
}

// ParseCallback reads РЭМД's callback body.
func (c Classifier) ParseCallback(body []byte) (CallbackResult, error) {
	var cb struct {
		ResponseToRequestID string `json:"response_to_request_id"`
		LocalUID            string `json:"local_uid"`
		Status              string `json:"status"`
		EMDRID              string `json:"emdr_id"`
		Errors              []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return CallbackResult{}, fmt.Errorf("РЭМД callback: %w", err)
	}
	if cb.ResponseToRequestID == "" && cb.LocalUID == "" {
		return CallbackResult{}, fmt.Errorf("РЭМД callback: names neither response_to_request_id nor local_uid")
	}
	res := CallbackResult{RequestID: cb.ResponseToRequestID, LocalUID: cb.LocalUID, EMDRID: cb.EMDRID}
	if cb.Status == "success" && cb.EMDRID != "" {
		res.Registered = true
		return res, nil
	}
	errs := make([]RegistryError, 0, len(cb.Errors))
	for _, e := range cb.Errors {
		errs = append(errs, RegistryError{Code: e.Code, Message: e.Message})
	}
	res.Reasons, res.Retry = c.ResultReasons(cb.Status, errs)
	return res, nil
}

// callBody is the request every registry gets here, before the payload.
type callBody struct {
	RequestID   string          `json:"request_id"`
	Kind        string          `json:"kind"`
	Version     int64           `json:"version"`
	Update      bool            `json:"update"`
	Action      string          `json:"action,omitempty"`
	LocalUID    string          `json:"local_uid,omitempty"`
	LPUUID      string          `json:"lpu_uid,omitempty"`
	CallbackURL string          `json:"callback_url,omitempty"`
	Patient     json.RawMessage `json:"patient,omitempty"`
}

// Build turns an outbound event into the call to its registry.
// callbackURL is where РЭМД should send its result.
func Build(registry topics.Registry, ev topics.OutboundEvent, ceID, callbackURL string) (seam.Call, error) {
	raw, ok := ev.Event.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(ev.Event)
		if err != nil {
			return seam.Call{}, fmt.Errorf("build %s call: %w", registry, err)
		}
		raw = b
	}
	var view struct {
		Patient  json.RawMessage `json:"patient"`
		LocalUID string          `json:"local_uid"`
		Kind     string          `json:"kind"`
		MOOID    string          `json:"mo_oid"`
		LabOID   string          `json:"lab_oid"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		return seam.Call{}, fmt.Errorf("build %s call: %w", registry, err)
	}
	body := callBody{RequestID: ceID, Kind: ev.Kind, Version: ev.Version, Update: ev.Update, Patient: view.Patient}
	call := seam.Call{Method: http.MethodPost, IdempotencyKey: ceID}
	switch {
	case registry == topics.RegistryREMD && ev.Kind == "document":
		call.Path = "/remd/registerDocument"
		body.LocalUID, body.Kind, body.LPUUID, body.CallbackURL = view.LocalUID, view.Kind, view.MOOID, callbackURL
	case registry == topics.RegistryREMD && ev.Kind == "lab_result":
		// A lab result goes to РЭМД as the lab protocol СЭМД (kind 7); its
		// localUid is minted from the result and its version, so a re-send
		// carries the same one.
		call.Path = "/remd/registerDocument"
		body.LocalUID, body.Kind, body.LPUUID, body.CallbackURL = LabLocalUID(ev.DedupKey, ev.Version), "7", view.LabOID, callbackURL
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

// LabLocalUID is the localUid a lab result is registered in РЭМД under: a
// name-based UUID (version 5 layout over SHA-1) of its dedup key and
// version, so a re-send of the same result carries the same one. Every
// adapter that registers lab results names them by it.
func LabLocalUID(key string, version int64) string {
	h := sha1.Sum([]byte(key + "@" + strconv.FormatInt(version, 10)))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
