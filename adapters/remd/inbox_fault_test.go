package remd

import (
	"encoding/xml"
	"net/http"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

// What the runtime refuses is answered as a SOAP Fault of the caller's
// version: the sender's fault below 500, the receiver's from 500, the
// reason escaped, the status kept.
func TestFaultIsASOAPFaultOfTheCallersVersion(t *testing.T) {
	in := &Inbox{}
	for _, tc := range []struct {
		name, contentType string
		status            int
		wantNS, wantCode  string
		wantType          string
	}{
		{"SOAP 1.2, refused", "application/soap+xml; charset=utf-8", http.StatusForbidden, wssec.NamespaceSOAP12, "soap:Sender", wssec.SOAP12.ContentType()},
		{"SOAP 1.2, send again", "application/soap+xml", http.StatusServiceUnavailable, wssec.NamespaceSOAP12, "soap:Receiver", wssec.SOAP12.ContentType()},
		{"SOAP 1.1, unreadable", "text/xml; charset=utf-8", http.StatusBadRequest, wssec.NamespaceSOAP11, "soap:Client", wssec.SOAP11.ContentType()},
		{"SOAP 1.1, send again", "text/xml", http.StatusServiceUnavailable, wssec.NamespaceSOAP11, "soap:Server", wssec.SOAP11.ContentType()},
		{"no SOAP Content-Type: 1.2", "application/json", http.StatusBadRequest, wssec.NamespaceSOAP12, "soap:Sender", wssec.SOAP12.ContentType()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const text = `not recorded, send again: <write> & "retry"`
			a := in.Fault(tc.contentType, tc.status, text)
			if a.Status != tc.status || a.ContentType != tc.wantType {
				t.Fatalf("status %d type %q, want %d %q", a.Status, a.ContentType, tc.status, tc.wantType)
			}
			var env struct {
				XMLName xml.Name
				Fault   struct {
					Code        string `xml:"Code>Value"`
					Reason      string `xml:"Reason>Text"`
					FaultCode   string `xml:"faultcode"`
					FaultString string `xml:"faultstring"`
				} `xml:"Body>Fault"`
			}
			if err := xml.Unmarshal(a.Body, &env); err != nil {
				t.Fatalf("not XML: %v\n%s", err, a.Body)
			}
			code, reason := env.Fault.Code, env.Fault.Reason
			if tc.wantNS == wssec.NamespaceSOAP11 {
				code, reason = env.Fault.FaultCode, env.Fault.FaultString
			}
			if env.XMLName.Space != tc.wantNS || env.XMLName.Local != "Envelope" || code != tc.wantCode || reason != text {
				t.Fatalf("envelope %v, code %q, reason %q; want %s, %s, the text", env.XMLName, code, reason, tc.wantNS, tc.wantCode)
			}
		})
	}
}
