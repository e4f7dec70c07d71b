package remd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// RegisterDocumentResponse is registerDocument's synchronous answer
// (ElemRegisterResponse): status StatusSuccess means accepted, the result
// comes on the callback; StatusError comes with Errors.
type RegisterDocumentResponse struct {
	XMLName xml.Name
	Status  string      `xml:"status"`
	Errors  []ErrorItem `xml:"errors>item,omitempty"`
}

// ErrorItem is one coded error of an answer, a callback or a fault's
// detail: errors/item{code, message} [EM; A], the code from НСИ 305.
type ErrorItem struct {
	Code    string `xml:"code"`
	Message string `xml:"message,omitempty"`
}

// answer is what an HTTP answer's SOAP envelope holds: a fault, or the
// body's first element, decoded into the value the caller chose for its
// name.
type answer struct {
	version wssec.Version
	fault   *soapFault
	// name is the body's first element's; decoded reports whether it was
	// decoded into the caller's value.
	name    xml.Name
	decoded bool
	// bodyAt is where the Body's content starts in the answer (0: not
	// found): the excerpt starts there, past the security header.
	bodyAt int64
}

// excerpt is the answer's start for the DLQ, from its Body's content when
// the envelope was read that far: an envelope's first 512 bytes are its
// WS-Security header, which says nothing of the failure.
func (a answer) excerpt(body []byte) string {
	if a.bodyAt > 0 && a.bodyAt <= int64(len(body)) {
		body = body[a.bodyAt:]
	}
	return destination.Excerpt(body)
}

// soapFault is a SOAP 1.1 or 1.2 Fault: the fields of both versions, matched
// by local name, one of each pair set.
type soapFault struct {
	Value12  string      `xml:"Code>Value"`
	Reason12 []string    `xml:"Reason>Text"`
	Code11   string      `xml:"faultcode"`
	String11 string      `xml:"faultstring"`
	Detail12 faultDetail `xml:"Detail"`
	Detail11 faultDetail `xml:"detail"`
}

// faultDetail is the registry's codes inside a fault's detail, as the
// synchronous answer carries them (errors/item; GUESS: the shape of the
// callback's, ElemRegisterResponse's doc).
type faultDetail struct {
	Errors []ErrorItem `xml:"errors>item"`
}

// sender reports whether the fault blames the request (SOAP 1.2 Sender,
// SOAP 1.1 Client, and the version and header faults), as opposed to the
// registry (Receiver, Server) or an unknown code, taken as the registry's.
func (f *soapFault) sender() bool {
	code := f.Value12
	if code == "" {
		code = f.Code11
	}
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.IndexByte(code, '.'); i >= 0 {
		code = code[:i] // SOAP 1.1's dotted subcodes: Client.Authentication
	}
	switch code {
	case "Sender", "Client", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown":
		return true
	}
	return false
}

// text is the fault's code and reason for an operator, personal numbers
// masked: faults echo what they refused.
func (f *soapFault) text() string {
	code, reason := f.Value12, strings.Join(f.Reason12, "; ")
	if code == "" {
		code, reason = f.Code11, f.String11
	}
	return ident.ScrubDigits(strings.TrimSpace("SOAP fault " + code + ": " + reason))
}

func (f *soapFault) errors() []ErrorItem {
	if len(f.Detail12.Errors) > 0 {
		return f.Detail12.Errors
	}
	return f.Detail11.Errors
}

// Errors reading an answer.
var (
	// ErrNotSOAP: the answer is not a SOAP 1.1 or 1.2 envelope with a Body.
	ErrNotSOAP = errors.New("remd: answer is not a SOAP envelope")
	// ErrDTD: the answer holds a document type declaration, refused.
	ErrDTD = errors.New("remd: answer holds a DTD")
)

// readAnswer reads a SOAP envelope down to its Body's first element: a
// Fault, or an element decoded into into(name) when that is not nil. It
// does not verify a signature: the synchronous answer comes on the TLS
// connection the gateway opened to ИПС.
func readAnswer(body []byte, into func(xml.Name) any) (answer, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var a answer
	depth := 0 // 1 inside Envelope, 2 inside Body
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = ErrNotSOAP
			}
			return answer{}, fmt.Errorf("read answer: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return answer{}, fmt.Errorf("read answer: %w", ErrDTD)
		case xml.EndElement:
			return answer{}, fmt.Errorf("read answer: no Body element: %w", ErrNotSOAP)
		case xml.StartElement:
			switch {
			case depth == 0:
				switch t.Name.Space {
				case wssec.NamespaceSOAP11:
					a.version = wssec.SOAP11
				case wssec.NamespaceSOAP12:
					a.version = wssec.SOAP12
				}
				if a.version == 0 || t.Name.Local != "Envelope" {
					return answer{}, fmt.Errorf("read answer: root element %s: %w", t.Name.Local, ErrNotSOAP)
				}
				depth = 1
			case depth == 1 && t.Name.Space == a.version.Namespace() && t.Name.Local == "Body":
				depth, a.bodyAt = 2, d.InputOffset()
			case depth == 1:
				if err := d.Skip(); err != nil { // the Header, unread
					return answer{}, fmt.Errorf("read answer: %w", err)
				}
			case t.Name.Space == a.version.Namespace() && t.Name.Local == "Fault":
				a.fault = &soapFault{}
				if err := d.DecodeElement(a.fault, &t); err != nil {
					return answer{bodyAt: a.bodyAt}, fmt.Errorf("read answer: fault: %w", err)
				}
				return a, nil
			default: // the Body's first element
				a.name = t.Name
				if v := into(t.Name); v != nil {
					if err := d.DecodeElement(v, &t); err != nil {
						return answer{bodyAt: a.bodyAt}, fmt.Errorf("read answer: %s: %w", t.Name.Local, err)
					}
					a.decoded = true
				}
				return a, nil
			}
		}
	}
}

// classifier reads РЭМД's answers into outcomes through the reason
// catalog, with the REST adapter's rules (destination.Classifier).
type classifier struct {
	cls destination.Classifier
	now func() time.Time
}

// register reads the answer to registerDocument.
func (c classifier) register(status int, retryAfter string, body []byte) seam.Outcome {
	out := seam.Outcome{HTTPStatus: status, RetryAfter: seam.ParseRetryAfter(retryAfter, c.now())}
	var r RegisterDocumentResponse
	a, err := readAnswer(body, func(n xml.Name) any {
		if isService(n, ElemRegisterResponse) {
			return &r
		}
		return nil
	})
	ok := status >= 200 && status < 300
	switch {
	case err != nil || a.fault != nil:
	case a.decoded && ok && r.Status == StatusSuccess:
		out.Result = seam.Accepted
		return out
	case a.decoded && (ok || len(r.Errors) > 0):
		// The registry's own codes decide, whatever status they came with.
		out.Excerpt = a.excerpt(body)
		out.Result, out.Reasons = c.byErrors(status, r.Status, r.Errors)
		return out
	case !a.decoded && ok:
		err = fmt.Errorf("answer is %s, not %s", a.name.Local, ElemRegisterResponse)
	}
	out.Excerpt = a.excerpt(body)
	out.Result, out.Reasons = c.failure(status, a, err)
	return out
}

// isService reports whether n is the service's element local.
func isService(n xml.Name, local string) bool {
	return n.Local == local && n.Space == NamespaceService
}

// byErrors reads an answer whose status is not success by its error items.
func (c classifier) byErrors(status int, answerStatus string, items []ErrorItem) (seam.Result, []topics.Reason) {
	if len(items) == 0 {
		return seam.Park, []topics.Reason{c.cls.Reason(reasons.RegistryUnknownCode, "answer status "+ident.ScrubDigits(answerStatus)+" without error items")}
	}
	errs := make([]destination.RegistryError, len(items))
	for i, it := range items {
		// Registries echo the patient in their messages: personal numbers
		// are masked before the text reaches a status or the DLQ.
		errs[i] = destination.RegistryError{Code: it.Code, Message: ident.ScrubDigits(it.Message)}
	}
	return c.cls.ByCodes(status, errs)
}

// failure reads an answer that is not an operation's success: a fault
// (its codes in the detail first, then its class), or the HTTP status.
// readErr is why the envelope could not be read, if it could not.
func (c classifier) failure(status int, a answer, readErr error) (seam.Result, []topics.Reason) {
	switch {
	case readErr == nil && a.fault != nil:
		if items := a.fault.errors(); len(items) > 0 {
			return c.byErrors(status, "fault", items)
		}
		// A fault's class decides where the HTTP status would mislead:
		// SOAP 1.1 sends every fault with 500.
		class := status
		if a.fault.sender() {
			if class < 400 || class >= 500 {
				class = http.StatusBadRequest
			}
		} else if class < 500 && class != http.StatusTooManyRequests {
			class = http.StatusInternalServerError
		}
		return c.cls.ByStatus(class, fmt.Sprintf("HTTP %d, %s", status, a.fault.text()))
	case status >= 200 && status < 300:
		// A success status with an answer that is not the operation's:
		// a proxy's page, a truncated body. Whether the registry took the
		// call is unknown; sent again, it answers or says it has it.
		detail := fmt.Sprintf("HTTP %d with an unreadable answer", status)
		if readErr != nil {
			detail += ": " + ident.ScrubDigits(readErr.Error())
		}
		return seam.Retry, []topics.Reason{c.cls.Reason(reasons.HTTPServerError, detail)}
	}
	return c.cls.ByStatus(status, fmt.Sprintf("HTTP %d", status))
}
