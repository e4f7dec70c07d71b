package remd

import (
	"bytes"
	"encoding/xml"
	"net/http"

	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// Fault is the answer to a message the gateway does not take or could
// not act on (refused, unreadable, not recorded yet): a SOAP Fault in the
// version the Content-Type names (SOAP 1.2 when it names none), with the
// HTTP status the runtime chose (403, 400, 503, …), so that ИПС and РЭМД
// read it as SOAP. Sender (1.1: Client) for a status below 500, the
// message's own fault; Receiver (Server) from 500, try again. The fault
// is not signed: the public record shows no signed fault of ИПС's, and a
// refused caller is not owed one. text carries no personal data (the
// runtime's texts name no values).
func (in *Inbox) Fault(contentType string, status int, text string) seam.Answer {
	version, err := soapVersion(contentType)
	if err != nil {
		version = wssec.SOAP12
	}
	return seam.Answer{Status: status, ContentType: version.ContentType(), Body: faultEnvelope(version, status < http.StatusInternalServerError, text)}
}

// faultEnvelope is a SOAP Fault envelope of version: the sender's fault
// or the receiver's, with text as its reason.
func faultEnvelope(version wssec.Version, senders bool, text string) []byte {
	var reason bytes.Buffer
	_ = xml.EscapeText(&reason, []byte(text)) // a bytes.Buffer does not fail
	var b bytes.Buffer
	b.WriteString(`<soap:Envelope xmlns:soap="` + version.Namespace() + `"><soap:Body><soap:Fault>`)
	if version == wssec.SOAP11 {
		code := "soap:Server"
		if senders {
			code = "soap:Client"
		}
		b.WriteString(`<faultcode>` + code + `</faultcode><faultstring>` + reason.String() + `</faultstring>`)
	} else {
		code := "soap:Receiver"
		if senders {
			code = "soap:Sender"
		}
		b.WriteString(`<soap:Code><soap:Value>` + code + `</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">` + reason.String() + `</soap:Text></soap:Reason>`)
	}
	b.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}
