package remd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// mustSign is every WS-Addressing header registerDocument carries, each
// of which must be signed and present.
var mustSign = []wssec.Part{wssec.PartAction, wssec.PartMessageID, wssec.PartTo, wssec.PartReplyTo, wssec.PartFaultTo}

// The signed registerDocument verifies with crypto/wssec in both SOAP
// versions: the Body (the request Build made), the Timestamp and every
// addressing header signed, the event's MessageID, the callback address
// as ReplyTo and FaultTo, ИПС's transportHeader, and the action in the
// HTTP headers.
func TestSignRegisterDocument(t *testing.T) {
	doc := signedDocument(t)
	s := gostSigner(t)
	for _, v := range []wssec.Version{wssec.SOAP12, wssec.SOAP11} {
		t.Run(v.String(), func(t *testing.T) {
			a := newAdapter(t, s, v)
			built := build(t, a, "document", doc.Event)
			call := sign(t, a, built)
			got, err := wssec.Verify(call.Body, wssec.VerifyOptions{TrustCertificate: trustOnly(s.Certificate()), Now: t0, MustSign: mustSign, MustHave: mustSign})
			if err != nil {
				t.Fatalf("the signed call does not verify: %v", err)
			}
			want := wssec.Addressing{Action: ActionRegisterDocument, MessageID: seam.MessageID(testCEID, 0), To: testTo, ReplyTo: testCallback, FaultTo: testCallback}
			if got.Addressing != want || got.Version != v || got.Algorithm != signer.GOST2012_256 {
				t.Errorf("addressing %+v version %v alg %v", got.Addressing, got.Version, got.Algorithm)
			}
			if !got.Timestamp.Created.Equal(t0) {
				t.Errorf("timestamp created %v, want the adapter's clock %v", got.Timestamp.Created, t0)
			}
			ops := got.Body.Elements()
			if len(ops) != 1 || !ops[0].Is(NamespaceService, ElemRegisterRequest) {
				t.Fatalf("signed body holds %d elements, the first %v", len(ops), ops)
			}
			if c, err := xmldsig.Canonicalize(ops[0], nil); err != nil || !bytes.Contains(c, []byte("<localUid>"+doc.Event.LocalUID+"</localUid>")) {
				t.Errorf("signed body is not the request built (%v)", err)
			}
			if id := clientEntityID(got.Header); id != testClientEntityID {
				t.Errorf("transportHeader clientEntityId %q", id)
			}
			ct := call.Header["Content-Type"]
			if v == wssec.SOAP12 {
				if !strings.HasPrefix(ct, "application/soap+xml") || !strings.Contains(ct, `action="registerDocument"`) || call.Header[HeaderSOAPAction] != "" {
					t.Errorf("SOAP 1.2 headers %v", call.Header)
				}
			} else if !strings.HasPrefix(ct, "text/xml") || call.Header[HeaderSOAPAction] != `"registerDocument"` {
				t.Errorf("SOAP 1.1 headers %v", call.Header)
			}
			if _, ok := call.Header[headerReplyTo]; ok {
				t.Error("the callback address is left as an HTTP header")
			}
			if _, ok := built.Header[headerReplyTo]; !ok {
				t.Error("Sign changed the built call's headers")
			}
		})
	}
}

// clientEntityID is the transportHeader's clientEntityId in header.
func clientEntityID(header *xmldsig.Element) string {
	for _, th := range header.ChildrenNamed(NamespaceTransport, ElemTransportHeader) {
		for _, ai := range th.ChildrenNamed(NamespaceTransport, ElemAuthInfo) {
			for _, id := range ai.ChildrenNamed(NamespaceTransport, ElemClientEntityID) {
				return id.Text()
			}
		}
	}
	return ""
}

// Each send is signed anew: a later send carries a later Timestamp, the
// same MessageID, and verifies; a tampered body does not.
func TestSignIsFreshEachSend(t *testing.T) {
	doc := signedDocument(t)
	s := gostSigner(t)
	now := t0
	a := newAdapter(t, s, wssec.SOAP12)
	a.cls.now = func() time.Time { return now }
	built := build(t, a, "document", doc.Event)
	var created []time.Time
	for i := 0; i < 2; i++ {
		call := sign(t, a, built)
		v, err := wssec.Verify(call.Body, wssec.VerifyOptions{TrustCertificate: trustOnly(s.Certificate()), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if v.Addressing.MessageID != seam.MessageID(testCEID, 0) {
			t.Errorf("send %d: MessageID %s", i, v.Addressing.MessageID)
		}
		created = append(created, v.Timestamp.Created)
		bad := bytes.Replace(call.Body, []byte(doc.Event.LocalUID), []byte(strings.Replace(doc.Event.LocalUID, "2b", "3b", 1)), 1)
		if _, err := wssec.Verify(bad, wssec.VerifyOptions{TrustCertificate: trustOnly(s.Certificate()), Now: now}); !errors.Is(err, xmldsig.ErrDigestMismatch) {
			t.Errorf("a changed localUid verified: %v", err)
		}
		now = now.Add(90 * time.Second)
	}
	if !created[1].After(created[0]) {
		t.Errorf("timestamps %v: the second send reused the first's", created)
	}
}

// The lookup is signed as searchRegistryItem, answered at once
// (anonymous ReplyTo, no FaultTo), with a MessageID of its own per send.
func TestSignLookup(t *testing.T) {
	doc := signedDocument(t)
	s := gostSigner(t)
	a := newAdapter(t, s, wssec.SOAP12)
	built := build(t, a, "document", doc.Event)
	lk, ok := a.Lookup(built)
	if !ok || !lk.Lookup || lk.IdempotencyKey != testCEID {
		t.Fatalf("lookup %+v ok %v", lk, ok)
	}
	var req SearchRegistryItemRequest
	if err := xml.Unmarshal(lk.Body, &req); err != nil {
		t.Fatal(err)
	}
	if req.XMLName.Space != NamespaceService || req.XMLName.Local != ElemSearchRequest ||
		req.LocalUID != doc.Event.LocalUID || req.Organization != doc.Event.MOOID || req.Kind != doc.Event.Kind {
		t.Errorf("search request %+v", req)
	}
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		call := sign(t, a, lk)
		v, err := wssec.Verify(call.Body, wssec.VerifyOptions{TrustCertificate: trustOnly(s.Certificate()), Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		ad := v.Addressing
		if ad.Action != ActionSearchRegistryItem || ad.ReplyTo != wssec.AnonymousAddress || ad.FaultTo != "" || ad.To != testTo || !strings.HasPrefix(ad.MessageID, "urn:uuid:") {
			t.Errorf("lookup addressing %+v", ad)
		}
		if ad.MessageID == seam.MessageID(testCEID, 0) {
			t.Error("the lookup reuses the registration's MessageID")
		}
		ids[ad.MessageID] = true
		if !strings.Contains(call.Header["Content-Type"], `action="searchRegistryItem"`) {
			t.Errorf("Content-Type %q", call.Header["Content-Type"])
		}
	}
	if len(ids) != 2 {
		t.Error("two sends of the lookup share a MessageID")
	}
	if _, ok := a.Lookup(lk); ok {
		t.Error("a lookup has a lookup")
	}
	// The stage may hand the lookup the call as sent: it finds the request
	// inside the envelope too.
	signed := sign(t, a, built)
	if lk2, ok := a.Lookup(signed); !ok || !bytes.Equal(lk2.Body, lk.Body) {
		t.Errorf("lookup of the signed call %q ok %v", lk2.Body, ok)
	}
}

// xmlsec1, an implementation nobody here wrote, verifies the adapter's
// envelope (it knows no ГОСТ here, so the adapter signs with ECDSA P-256
// for it; the ГОСТ signature itself is checked against OpenSSL in
// crypto/wssec), every signed part registered as an ID, and refuses it
// with the body changed by one character.
func TestXmlsec1VerifiesTheSignedRequest(t *testing.T) {
	bin := testtool.Require(t, "xmlsec1")
	doc := signedDocument(t)
	s, certFile := ecdsaSigner(t)
	args := []string{"--verify", "--pubkey-cert-pem", certFile}
	for _, el := range []string{
		wssec.NamespaceSOAP11 + ":Body", wssec.NamespaceSOAP12 + ":Body", wssec.NamespaceWSU + ":Timestamp",
		wssec.NamespaceWSA + ":Action", wssec.NamespaceWSA + ":MessageID", wssec.NamespaceWSA + ":To",
		wssec.NamespaceWSA + ":ReplyTo", wssec.NamespaceWSA + ":FaultTo", wssec.NamespaceWSSE + ":BinarySecurityToken",
	} {
		args = append(args, "--id-attr:Id", el)
	}
	for _, v := range []wssec.Version{wssec.SOAP12, wssec.SOAP11} {
		a := newAdapter(t, s, v)
		built := build(t, a, "document", doc.Event)
		call := sign(t, a, built)
		for _, tampered := range []bool{false, true} {
			body := call.Body
			if tampered {
				body = bytes.Replace(body, []byte(doc.Event.Number), []byte(doc.Event.Number+"0"), 1)
			}
			f := filepath.Join(t.TempDir(), "env.xml")
			if err := os.WriteFile(f, body, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, append(args, f)...).CombinedOutput()
			if (err == nil) == tampered {
				t.Fatalf("%v tampered=%v: xmlsec1: %v\n%s", v, tampered, err, out)
			}
			if !tampered && !bytes.Contains(out, []byte("SignedInfo References (ok/all): 7/7")) {
				t.Fatalf("%v: xmlsec1 did not check the seven references:\n%s", v, out)
			}
		}
	}
}

// New refuses what cannot make a working adapter.
func TestNewRefuses(t *testing.T) {
	s := gostSigner(t)
	in, err := NewInbox(InboxConfig{Trust: trustOnly(s.Certificate()), Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	good := Config{ClientEntityID: testClientEntityID, To: testTo, Signer: s, Inbox: in}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"client entity id not a GUID": func(c *Config) { c.ClientEntityID = "mis-1" },
		"relative To":                 func(c *Config) { c.To = "/remd" },
		"no signer":                   func(c *Config) { c.Signer = nil },
		"no inbox":                    func(c *Config) { c.Inbox = nil },
		"unknown SOAP version":        func(c *Config) { c.Version = 3 },
	} {
		c := good
		change(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

// What РЭМД offers beyond calls: callbacks and file requests.
func TestCapabilities(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	if c := a.Capabilities(); !c.Callbacks || !c.Files {
		t.Errorf("capabilities %+v", c)
	}
	if r := a.Reason(reasons.CallbackMissing); r.Code != reasons.CallbackMissing || r.MessageEN == "" || r.MessageRU == "" {
		t.Errorf("reason %+v", r)
	}
}
