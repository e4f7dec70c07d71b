package remd

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/egisz-gateway/egisz-gateway/seam"
)

// SearchRegistryItemRequest is searchRegistryItem's body
// (ElemSearchRequest): the reconciliation lookup of a document the
// gateway registered, by its localUid within the organization and kind
// [R; GUESS: localUid narrows the search, ElemSearchRequest's doc].
type SearchRegistryItemRequest struct {
	XMLName      xml.Name
	LocalUID     string `xml:"localUid"`
	Organization string `xml:"organization"`
	Kind         string `xml:"kind"`
}

// SearchRegistryItemResponse is its answer (ElemSearchResponse): the
// registry items found, none when the document is not registered.
type SearchRegistryItemResponse struct {
	XMLName xml.Name
	Status  string         `xml:"status"`
	Matches []RegistryItem `xml:"matches>item"`
	Errors  []ErrorItem    `xml:"errors>item,omitempty"`
}

// RegistryItem is one registered document as a search finds it [R;
// GUESS: it carries its emdrId].
type RegistryItem struct {
	LocalUID             string `xml:"localUid"`
	EMDRID               string `xml:"emdrId"`
	RegistrationDateTime string `xml:"registrationDateTime,omitempty"`
}

// GetRegistryItemResponse is getRegistryItem's answer
// (ElemGetItemResponse) [M2]: the gateway does not ask by emdrId (it has
// none before the callback), but reads this answer as a lookup's too.
type GetRegistryItemResponse struct {
	XMLName              xml.Name
	EMDRID               string      `xml:"emdrId"`
	RegistrationDateTime string      `xml:"registrationDateTime,omitempty"`
	StoreTillDate        string      `xml:"storeTillDate,omitempty"`
	Errors               []ErrorItem `xml:"errors>item,omitempty"`
}

// codeNotFound is РЭМД's code for an object it does not hold (НСИ 305).
const codeNotFound = "OBJECT_NOT_FOUND"

// lookupCall is the searchRegistryItem call for a built registerDocument
// call: the gateway has no emdrId before the callback, so it searches by
// the document's localUid, organization and kind.
func lookupCall(call seam.Call) (seam.Call, bool) {
	if call.Lookup {
		return seam.Call{}, false
	}
	req, ok := registerRequestOf(call.Body)
	if !ok || req.LocalUID == "" {
		return seam.Call{}, false
	}
	body, err := marshal(&SearchRegistryItemRequest{
		XMLName:  xml.Name{Space: NamespaceService, Local: ElemSearchRequest},
		LocalUID: req.LocalUID, Organization: req.Organization, Kind: req.Kind,
	})
	if err != nil {
		return seam.Call{}, false
	}
	return seam.Call{Method: http.MethodPost, Body: body, IdempotencyKey: call.IdempotencyKey, Lookup: true}, true
}

// registerRequestOf finds the registerDocument request in a call's body:
// the bare element Build makes, or that element inside an envelope.
func registerRequestOf(body []byte) (*RegisterDocumentRequest, bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false
		}
		if t, ok := tok.(xml.StartElement); ok && isService(t.Name, ElemRegisterRequest) {
			var req RegisterDocumentRequest
			if d.DecodeElement(&req, &t) != nil {
				return nil, false
			}
			return &req, true
		}
	}
}

// searchedUID is the localUid a lookup call searches for.
func searchedUID(call seam.Call) string {
	d := xml.NewDecoder(bytes.NewReader(call.Body))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if t, ok := tok.(xml.StartElement); ok && isService(t.Name, ElemSearchRequest) {
			var req SearchRegistryItemRequest
			if d.DecodeElement(&req, &t) != nil {
				return ""
			}
			return req.LocalUID
		}
	}
}

// lookup reads the answer to a lookup: the document registered (with its
// emdrId), not registered (seam.NotFound), or a failure as register
// reads one. uid is the localUid searched for.
func (c classifier) lookup(uid string, status int, retryAfter string, body []byte) seam.Outcome {
	out := seam.Outcome{HTTPStatus: status, RetryAfter: seam.ParseRetryAfter(retryAfter, c.now())}
	var (
		search SearchRegistryItemResponse
		item   GetRegistryItemResponse
	)
	a, err := readAnswer(body, func(n xml.Name) any {
		switch {
		case isService(n, ElemSearchResponse):
			return &search
		case isService(n, ElemGetItemResponse):
			return &item
		}
		return nil
	})
	ok := status >= 200 && status < 300
	read := err == nil && a.fault == nil && a.decoded
	switch {
	case read && a.name.Local == ElemSearchResponse:
		if ok && (search.Status == StatusSuccess || (search.Status == "" && len(search.Errors) == 0)) {
			for _, m := range search.Matches {
				// The search may match more than the one document (GUESS:
				// localUid narrows it); only the one searched for counts.
				if m.EMDRID != "" && (m.LocalUID == uid || m.LocalUID == "") {
					out.Result, out.RegistryID = seam.Registered, m.EMDRID
					return out
				}
			}
			out.Result = seam.NotFound
			return out
		}
		if ok || len(search.Errors) > 0 {
			return c.lookupErrors(out, status, search.Status, search.Errors, a.excerpt(body))
		}
	case read:
		if ok && item.EMDRID != "" && len(item.Errors) == 0 {
			out.Result, out.RegistryID = seam.Registered, item.EMDRID
			return out
		}
		if ok || len(item.Errors) > 0 {
			return c.lookupErrors(out, status, StatusError, item.Errors, a.excerpt(body))
		}
	case err == nil && a.fault == nil && ok:
		err = fmt.Errorf("answer is %s, not %s", a.name.Local, ElemSearchResponse)
	case err == nil && a.fault != nil && notFound(a.fault.errors()):
		out.Result = seam.NotFound
		return out
	}
	out.Excerpt = a.excerpt(body)
	out.Result, out.Reasons = c.failure(status, a, err)
	return out
}

// lookupErrors reads a lookup's error answer: OBJECT_NOT_FOUND is no
// registration, anything else a failure.
func (c classifier) lookupErrors(out seam.Outcome, status int, answerStatus string, items []ErrorItem, excerpt string) seam.Outcome {
	if notFound(items) {
		out.Result = seam.NotFound
		return out
	}
	out.Excerpt = excerpt
	out.Result, out.Reasons = c.byErrors(status, answerStatus, items)
	return out
}

func notFound(items []ErrorItem) bool {
	return len(items) == 1 && items[0].Code == codeNotFound
}
