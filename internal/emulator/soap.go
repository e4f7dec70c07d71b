package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// This file is the emulator's own XML codec of РЭМД's messages: it reads
// what the gateway sends and writes what РЭМД sends back, from the names
// in adapters/remd/wire.go and the shapes of issue 31's contract, and
// shares no code with the gateway's builders and parsers, so that it
// checks them rather than agreeing with them by construction.

// Fault kinds of SOAP 1.2 (Sender, Receiver), written as SOAP 1.1's
// Client and Server for a 1.1 request.
type faultCode int

const (
	faultSender faultCode = iota + 1
	faultReceiver
)

// faultXML writes a SOAP fault envelope of version v: code, a reason text,
// and in Detail the registry's errors/item list when errs is not empty.
// Faults go unsigned, as an outage or a throttle in front of the service
// answers without the service's key.
func faultXML(v wssec.Version, code faultCode, reason string, detailNS string, errs []Error) []byte {
	var detail bytes.Buffer
	if len(errs) > 0 {
		detail.WriteString(`<errors xmlns="` + escape(detailNS) + `">`)
		writeItems(&detail, errs)
		detail.WriteString(`</errors>`)
	}
	var b bytes.Buffer
	if v == wssec.SOAP11 {
		fc := "soap:Server"
		if code == faultSender {
			fc = "soap:Client"
		}
		b.WriteString(`<soap:Envelope xmlns:soap="` + wssec.NamespaceSOAP11 + `"><soap:Body><soap:Fault>`)
		b.WriteString(`<faultcode>` + fc + `</faultcode><faultstring>` + escape(reason) + `</faultstring>`)
		if detail.Len() > 0 {
			b.WriteString(`<detail>` + detail.String() + `</detail>`)
		}
		b.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
		return b.Bytes()
	}
	value := "soap:Receiver"
	if code == faultSender {
		value = "soap:Sender"
	}
	b.WriteString(`<soap:Envelope xmlns:soap="` + wssec.NamespaceSOAP12 + `"><soap:Body><soap:Fault>`)
	b.WriteString(`<soap:Code><soap:Value>` + value + `</soap:Value></soap:Code>`)
	b.WriteString(`<soap:Reason><soap:Text xml:lang="en">` + escape(reason) + `</soap:Text></soap:Reason>`)
	if detail.Len() > 0 {
		b.WriteString(`<soap:Detail>` + detail.String() + `</soap:Detail>`)
	}
	b.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

// writeItems writes errors as item{code, message} elements.
func writeItems(b *bytes.Buffer, errs []Error) {
	for _, e := range errs {
		b.WriteString(`<item><code>` + escape(e.Code) + `</code><message>` + escape(e.Message) + `</message></item>`)
	}
}

// escape is s as XML character data or attribute value.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// element writes <name xmlns="ns">…</name>, its children in the same
// (default) namespace, in the order they are added.
type element struct {
	b bytes.Buffer
}

func newElement(ns, name string) *element {
	e := &element{}
	e.b.WriteString(`<` + name + ` xmlns="` + escape(ns) + `">`)
	return e
}

// text adds <name>value</name>.
func (e *element) text(name, value string) *element {
	e.b.WriteString(`<` + name + `>` + escape(value) + `</` + name + `>`)
	return e
}

// textIf adds <name>value</name> when value is not empty.
func (e *element) textIf(name, value string) *element {
	if value != "" {
		e.text(name, value)
	}
	return e
}

// open and close bracket a child element with children of its own.
func (e *element) open(name string) *element  { e.b.WriteString(`<` + name + `>`); return e }
func (e *element) close(name string) *element { e.b.WriteString(`</` + name + `>`); return e }

// errors adds errors{item+} when errs is not empty.
func (e *element) errors(errs []Error) *element {
	if len(errs) > 0 {
		e.b.WriteString(`<errors>`)
		writeItems(&e.b, errs)
		e.b.WriteString(`</errors>`)
	}
	return e
}

// end closes the element and returns its bytes.
func (e *element) end(name string) []byte {
	e.b.WriteString(`</` + name + `>`)
	return e.b.Bytes()
}

// newMessageID is a fresh urn:uuid (RFC 4122 version 4).
func newMessageID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// signMessage signs a message of РЭМД's: body under WS-Security with the
// emulator's key, addressed by a.
func signMessage(ctx context.Context, s signer.Signer, v wssec.Version, a wssec.Addressing, body []byte) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("sign %s: %w", a.Action, ErrNoSigner)
	}
	if a.MessageID == "" {
		a.MessageID = newMessageID()
	}
	out, err := wssec.Sign(ctx, s, wssec.Envelope{Version: v, Addressing: a, Body: body}, wssec.SignOptions{})
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", a.Action, err)
	}
	return out, nil
}

// bodyElement is the one element inside a verified soap:Body.
func bodyElement(v *wssec.Verified) (*xmldsig.Element, error) {
	els := v.Body.Elements()
	if len(els) != 1 {
		return nil, fmt.Errorf("soap:Body holds %d elements, want 1: %w", len(els), ErrMalformedMessage)
	}
	return els[0], nil
}

// reader reads child elements in one namespace and notes the required
// ones that are missing.
type reader struct {
	ns      string
	missing []string
}

// child returns e's first child element named name in the reader's
// namespace, or nil.
func (r *reader) child(e *xmldsig.Element, name string) *xmldsig.Element {
	if e == nil {
		return nil
	}
	if cs := e.ChildrenNamed(r.ns, name); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

// opt returns the trimmed text of e's child name, "" when absent.
func (r *reader) opt(e *xmldsig.Element, name string) string {
	if c := r.child(e, name); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

// req is opt that notes path+name as missing when empty.
func (r *reader) req(e *xmldsig.Element, path, name string) string {
	v := r.opt(e, name)
	if v == "" {
		r.missing = append(r.missing, path+name)
	}
	return v
}

// items reads errors/item{code, message} under e.
func (r *reader) items(e *xmldsig.Element) []Error {
	var out []Error
	errs := r.child(e, "errors")
	if errs == nil {
		return nil
	}
	for _, it := range errs.ChildrenNamed(r.ns, "item") {
		out = append(out, Error{Code: r.opt(it, "code"), Message: r.opt(it, "message")})
	}
	return out
}
