package remd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// keySigner is a signer.Signer over an in-process ГОСТ key.
type keySigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s keySigner) Certificate() *x509.Certificate { return s.cert }

// testCA is a ГОСТ 2012-256 certification authority that issues signing
// keys, and the trust check of a gateway that trusts it alone (the chain
// verifier, as the runtime wires Trust).
type testCA struct {
	ca    *gostx509.TestCA
	trust func(*x509.Certificate) error
}

var (
	caOnce  sync.Once
	caSet   map[string]*testCA
	caSetMu sync.Mutex
)

// ca returns the test CA named name, made once per test binary: ГОСТ key
// generation is slow enough to share.
func ca(t testing.TB, name string) *testCA {
	t.Helper()
	caSetMu.Lock()
	defer caSetMu.Unlock()
	caOnce.Do(func() { caSet = map[string]*testCA{} })
	if c, ok := caSet[name]; ok {
		return c
	}
	ctx := context.Background()
	nb, na := time.Now().Add(-24*time.Hour), time.Now().Add(365*24*time.Hour)
	c, err := gostx509.NewTestCA(ctx, signer.GOST2012_256, gostx509.Subject{CommonName: name, Organization: "Test", Country: "RU"}, nb, na, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{c.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCA{ca: c, trust: func(cert *x509.Certificate) error {
		_, err := v.Verify(cert, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
		return err
	}}
	caSet[name] = tc
	return tc
}

// issue makes a signing key and certificate for cn under the CA.
func (c *testCA) issue(t testing.TB, cn string) signer.Signer {
	t.Helper()
	nb, na := time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour)
	key, cert, err := c.ca.IssueKey(context.Background(), signer.GOST2012_256, gostx509.SigningTemplate(gostx509.Subject{CommonName: cn, Organization: "Test", Country: "RU"}, nb, na))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keySigner{DigestSigner: ds, cert: cert}
}

// fixture is a gateway's Inbox trusting the РЭМД CA, РЭМД's signer, and
// the gateway's own signer and the trust check of РЭМД (or the emulator)
// for the gateway's answers.
type fixture struct {
	inbox        *Inbox
	remd         signer.Signer
	gateway      signer.Signer
	trustGateway func(*x509.Certificate) error
	now          time.Time
}

var (
	signersOnce              sync.Once
	remdSigner, gwSigner     signer.Signer
	strangerSigner, piSigner signer.Signer
)

func signers(t testing.TB) {
	t.Helper()
	signersOnce.Do(func() {
		remdSigner = ca(t, "Тестовый УЦ ИПС").issue(t, "РЭМД")
		gwSigner = ca(t, "Тестовый УЦ МИС").issue(t, "Шлюз")
		strangerSigner = ca(t, "Чужой УЦ").issue(t, "Не РЭМД")
		// A certificate whose subject is a person's name: what a trust
		// check says about it must not reach an error text.
		piSigner = ca(t, "Чужой УЦ").issue(t, "Иванов Иван Иванович")
	})
}

func newFixture(t testing.TB, mod func(*InboxConfig)) *fixture {
	t.Helper()
	signers(t)
	f := &fixture{remd: remdSigner, gateway: gwSigner, trustGateway: ca(t, "Тестовый УЦ МИС").trust, now: time.Now().UTC().Truncate(time.Millisecond)}
	cfg := InboxConfig{Trust: ca(t, "Тестовый УЦ ИПС").trust, Signer: f.gateway, Now: func() time.Time { return f.now }}
	if mod != nil {
		mod(&cfg)
	}
	in, err := NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.inbox = in
	return f
}

// message is one message РЭМД sends, before signing.
type message struct {
	version   wssec.Version
	action    string
	messageID string
	relatesTo string
	body      string
	signedAt  time.Time
	ttl       time.Duration
	by        signer.Signer
}

func (f *fixture) sign(t testing.TB, m message) []byte {
	t.Helper()
	if m.version == 0 {
		m.version = wssec.SOAP12
	}
	if m.by == nil {
		m.by = f.remd
	}
	if m.signedAt.IsZero() {
		m.signedAt = f.now
	}
	b, err := wssec.Sign(context.Background(), m.by, wssec.Envelope{
		Version:    m.version,
		Addressing: wssec.Addressing{Action: m.action, MessageID: m.messageID, RelatesTo: m.relatesTo, To: "https://gateway.example/emdr/callback"},
		Body:       []byte(m.body),
	}, wssec.SignOptions{Now: m.signedAt, TTL: m.ttl})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	callMessageID = "urn:uuid:6b29fc40-ca47-5067-b31d-00dd010662da"
	cbNS          = `xmlns:cb="` + NamespaceCallback + `"`
)

var idSeq struct {
	sync.Mutex
	n int
}

// freshID returns a MessageID not used before in this test binary.
func freshID() string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", idSeq.n)
}

func resultBody(inner string) string {
	return `<cb:registerDocumentResult ` + cbNS + `>` + inner + `</cb:registerDocumentResult>`
}

func contentType(v wssec.Version) string { return v.ContentType() }

func TestInboundResult(t *testing.T) {
	f := newFixture(t, nil)
	type want struct {
		messageID  string
		registered bool
		registryID string
		codes      []string
		retry      bool
	}
	for _, tc := range []struct {
		name      string
		version   wssec.Version
		relatesTo string // the wsa:RelatesTo header
		body      string
		want      want
	}{
		{"success SOAP 1.2", wssec.SOAP12, "", resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:localUid>6f1c</cb:localUid><cb:registryItem><cb:emdrId>1.2.643.5.1.13.13.12.2.77.7777.0.123456</cb:emdrId><cb:registrationDateTime>2026-12-07T10:00:00+03:00</cb:registrationDateTime></cb:registryItem>`),
			want{messageID: callMessageID, registered: true, registryID: "1.2.643.5.1.13.13.12.2.77.7777.0.123456"}},
		{"success SOAP 1.1, unqualified fields", wssec.SOAP11, "", `<cb:registerDocumentResult ` + cbNS + `><relatesToMessage>` + callMessageID + `</relatesToMessage><status>success</status><registryItem><emdrId>42</emdrId></registryItem></cb:registerDocumentResult>`,
			want{messageID: callMessageID, registered: true, registryID: "42"}},
		{"relatesToMessage as an attribute", wssec.SOAP12, "", `<cb:registerDocumentResult ` + cbNS + ` relatesToMessage="` + callMessageID + `"><cb:status>success</cb:status><cb:registryItem><cb:emdrId>43</cb:emdrId></cb:registryItem></cb:registerDocumentResult>`,
			want{messageID: callMessageID, registered: true, registryID: "43"}},
		{"relatesToMessage only in wsa:RelatesTo", wssec.SOAP12, callMessageID, resultBody(`<cb:status>success</cb:status><cb:registryItem><cb:emdrId>44</cb:emdrId></cb:registryItem>`),
			want{messageID: callMessageID, registered: true, registryID: "44"}},
		{"rejected, codes to park", wssec.SOAP12, "", resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>PATIENT_MPI_MISMATCH</cb:code><cb:message>m1</cb:message></cb:item><cb:item><cb:code>DIGEST_MISMATCH</cb:code><cb:message>m2</cb:message></cb:item></cb:errors>`),
			want{messageID: callMessageID, codes: []string{"PATIENT_MPI_MISMATCH", "DIGEST_MISMATCH"}}},
		{"rejected, a code to retry", wssec.SOAP11, "", resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>DIGEST_MISMATCH</cb:code></cb:item><cb:item><cb:code>FILE_WAS_NOT_SENT</cb:code><cb:message>no file</cb:message></cb:item></cb:errors>`),
			want{messageID: callMessageID, codes: []string{"DIGEST_MISMATCH", "FILE_WAS_NOT_SENT"}, retry: true}},
		{"unknown code", wssec.SOAP12, "", resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>NEW_CODE_2027</cb:code></cb:item></cb:errors>`),
			want{messageID: callMessageID, codes: []string{"REGISTRY_UNKNOWN_CODE"}}},
		{"success without an emdrId is no registration", wssec.SOAP12, "", resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status>`),
			want{messageID: callMessageID, codes: []string{"REGISTRY_UNKNOWN_CODE"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := freshID()
			env := f.sign(t, message{version: tc.version, action: ActionCallback, messageID: id, relatesTo: tc.relatesTo, body: tc.body})
			got, err := f.inbox.Inbound(context.Background(), contentType(tc.version), env)
			if err != nil {
				t.Fatalf("Inbound: %v", err)
			}
			if got.Kind != seam.InboundResult || got.MessageID != id {
				t.Fatalf("kind %v message id %q, want result %q", got.Kind, got.MessageID, id)
			}
			r := got.Result
			if r.MessageID != tc.want.messageID || r.Registered != tc.want.registered || r.RegistryID != tc.want.registryID || r.Retry != tc.want.retry {
				t.Fatalf("result %+v, want %+v", r, tc.want)
			}
			var codes []string
			for _, rs := range r.Reasons {
				codes = append(codes, rs.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tc.want.codes, ",") {
				t.Fatalf("codes %v, want %v", codes, tc.want.codes)
			}
		})
	}
}

func TestInboundFileRequest(t *testing.T) {
	f := newFixture(t, nil)
	for _, v := range []wssec.Version{wssec.SOAP11, wssec.SOAP12} {
		t.Run(v.String(), func(t *testing.T) {
			id := freshID()
			env := f.sign(t, message{version: v, action: ActionGetDocumentFile, messageID: id,
				body: `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid> 0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11 </cb:localUid></cb:getDocumentFileRequest>`})
			got, err := f.inbox.Inbound(context.Background(), v.ContentType(), env)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != seam.InboundFileRequest || got.MessageID != id || got.LocalUID != "0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11" {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// tamper replaces old with new in a signed envelope, failing when old is
// not there (a tamper that changes nothing proves nothing).
func tamper(t testing.TB, env []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(env, []byte(old)) {
		t.Fatalf("%q not in the envelope", old)
	}
	return bytes.Replace(env, []byte(old), []byte(new), 1)
}

// withUnsignedAction signs a message without an Action and then adds one
// the signature does not cover.
func (f *fixture) withUnsignedAction(t testing.TB, id, body string) []byte {
	env := f.sign(t, message{messageID: id, body: body})
	return tamper(t, env, `<wsa:MessageID`, `<wsa:Action>`+ActionCallback+`</wsa:Action><wsa:MessageID`)
}

func TestInboundRefused(t *testing.T) {
	f := newFixture(t, nil)
	okBody := resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>1001</cb:emdrId></cb:registryItem>`)
	unsigned := `<soap:Envelope xmlns:soap="` + wssec.NamespaceSOAP12 + `" xmlns:wsa="` + wssec.NamespaceWSA + `"><soap:Header><wsa:Action>` + ActionCallback + `</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID></soap:Header><soap:Body>` + okBody + `</soap:Body></soap:Envelope>`
	replayed := f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody})
	if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), replayed); err != nil {
		t.Fatalf("first delivery refused: %v", err)
	}
	for _, tc := range []struct {
		name        string
		contentType string
		env         []byte
		reason      string
	}{
		{"unsigned", contentType(wssec.SOAP12), []byte(unsigned), ReasonUnsigned},
		{"tampered body", contentType(wssec.SOAP12), tamper(t, f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody}), "<cb:emdrId>1001<", "<cb:emdrId>1002<"), ReasonBadSignature},
		{"tampered relatesToMessage", contentType(wssec.SOAP12), tamper(t, f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody}), "010662da<", "010662db<"), ReasonBadSignature},
		{"tampered MessageID", contentType(wssec.SOAP12), tamper(t, f.sign(t, message{action: ActionCallback, messageID: "urn:uuid:tamper-me", body: okBody}), "tamper-me", "tampered"), ReasonBadSignature},
		{"unsigned Action", contentType(wssec.SOAP12), f.withUnsignedAction(t, freshID(), okBody), ReasonUnsigned},
		{"no MessageID", contentType(wssec.SOAP12), f.sign(t, message{action: ActionCallback, body: okBody}), ReasonUnsigned},
		{"no Action", contentType(wssec.SOAP12), f.sign(t, message{messageID: freshID(), body: okBody}), ReasonUnsigned},
		{"wrong CA", contentType(wssec.SOAP12), f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody, by: strangerSigner}), ReasonUntrusted},
		{"the gateway's own key", contentType(wssec.SOAP12), f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody, by: f.gateway}), ReasonUntrusted},
		{"expired", contentType(wssec.SOAP12), f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody, signedAt: f.now.Add(-10 * time.Minute), ttl: 5 * time.Minute}), ReasonExpired},
		{"from the future", contentType(wssec.SOAP12), f.sign(t, message{action: ActionCallback, messageID: freshID(), body: okBody, signedAt: f.now.Add(10 * time.Minute)}), ReasonExpired},
		{"replayed", contentType(wssec.SOAP12), replayed, ReasonReplayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.inbox.Inbound(context.Background(), tc.contentType, tc.env)
			if !errors.Is(err, seam.ErrUnauthenticated) {
				t.Fatalf("err %v (got %+v), want ErrUnauthenticated", err, got)
			}
			if errors.Is(err, ErrBadMessage) {
				t.Fatalf("err %v is both unauthenticated and a bad message", err)
			}
			if r := RefusalReason(err); r != tc.reason {
				t.Fatalf("reason %q, want %q (%v)", r, tc.reason, err)
			}
			if !reflect.DeepEqual(got, seam.Inbound{}) {
				t.Fatalf("a refused message was read: %+v", got)
			}
		})
	}
}

// A message РЭМД sends again, signed anew (a fresh Timestamp, the same
// MessageID), is not a replay: only a copy of the same signed message is.
func TestInboundResentIsNoReplay(t *testing.T) {
	f := newFixture(t, nil)
	id := freshID()
	body := resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>RATE_LIMIT</cb:code></cb:item></cb:errors>`)
	for i := range 2 {
		env := f.sign(t, message{action: ActionCallback, messageID: id, body: body, signedAt: f.now.Add(time.Duration(i) * time.Second)})
		if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), env); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
}

// A replay is remembered until its Timestamp would refuse it anyway; after
// that the Timestamp check refuses it, so a copy never gets through.
func TestInboundReplayAfterExpiry(t *testing.T) {
	f := newFixture(t, func(c *InboxConfig) { c.ClockSkew = 30 * time.Second })
	env := f.sign(t, message{action: ActionCallback, messageID: freshID(), ttl: time.Minute,
		body: resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>7</cb:emdrId></cb:registryItem>`)})
	start := f.now
	for _, step := range []struct {
		at     time.Duration
		reason string
	}{
		{0, ""},
		{59 * time.Second, ReasonReplayed},
		{89 * time.Second, ReasonReplayed},
		{91 * time.Second, ReasonExpired},
	} {
		f.now = start.Add(step.at)
		_, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), env)
		if r := RefusalReason(err); r != step.reason {
			t.Fatalf("at +%v: reason %q, want %q (%v)", step.at, r, step.reason, err)
		}
	}
}

// A message the runtime released (it answered 503, send again) is taken
// again when РЭМД re-sends it byte for byte; one it acted on stays a replay.
func TestInboundReleasedMessageIsTakenAgain(t *testing.T) {
	f := newFixture(t, nil)
	body := resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>7</cb:emdrId></cb:registryItem>`)
	releasedID := freshID()
	released := f.sign(t, message{action: ActionCallback, messageID: releasedID, body: body})
	kept := f.sign(t, message{action: ActionCallback, messageID: freshID(), body: body})
	for _, env := range [][]byte{released, kept} {
		if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), env); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), released); RefusalReason(err) != ReasonReplayed {
		t.Fatalf("a copy before the release: %v, want a replay", err)
	}
	f.inbox.Release(seam.Inbound{Kind: seam.InboundResult, MessageID: releasedID})
	if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), released); err != nil {
		t.Fatalf("the released message sent again: %v, want taken", err)
	}
	if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), kept); RefusalReason(err) != ReasonReplayed {
		t.Fatalf("a copy of the message acted on: %v, want a replay", err)
	}
}

func TestInboundBadMessage(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name        string
		contentType string
		action      string
		body        string
		raw         []byte // sent as it is, not signed: malformed
	}{
		{"not XML", contentType(wssec.SOAP12), "", "", []byte(`{"status":"success"}`)},
		{"XML, not an envelope", contentType(wssec.SOAP12), "", "", []byte(resultBody(`<cb:status>success</cb:status>`))},
		{"an envelope without a Header", contentType(wssec.SOAP12), "", "", []byte(`<soap:Envelope xmlns:soap="` + wssec.NamespaceSOAP12 + `"><soap:Body/></soap:Envelope>`)},
		{"a DTD", contentType(wssec.SOAP12), "", "", []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`)},
		{"unknown action", contentType(wssec.SOAP12), "demandContent", resultBody(`<cb:status>success</cb:status>`), nil},
		{"action and body disagree", contentType(wssec.SOAP12), ActionGetDocumentFile, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status>`), nil},
		{"result in the service namespace", contentType(wssec.SOAP12), ActionCallback, `<s:registerDocumentResult xmlns:s="` + NamespaceService + `"><s:relatesToMessage>x</s:relatesToMessage><s:status>success</s:status></s:registerDocumentResult>`, nil},
		{"no status", contentType(wssec.SOAP12), ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage>`), nil},
		{"status repeated", contentType(wssec.SOAP12), ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>error</cb:status><cb:status>success</cb:status>`), nil},
		{"no relatesToMessage", contentType(wssec.SOAP12), ActionCallback, resultBody(`<cb:status>success</cb:status>`), nil},
		{"error item without code", contentType(wssec.SOAP12), ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:message>m</cb:message></cb:item></cb:errors>`), nil},
		{"two operations", contentType(wssec.SOAP12), ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status>`) + resultBody(`<cb:relatesToMessage>y</cb:relatesToMessage><cb:status>success</cb:status>`), nil},
		{"empty body", contentType(wssec.SOAP12), ActionCallback, ``, nil},
		{"file request without localUid", contentType(wssec.SOAP12), ActionGetDocumentFile, `<cb:getDocumentFileRequest ` + cbNS + `/>`, nil},
		{"localUid with markup", contentType(wssec.SOAP12), ActionGetDocumentFile, `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid><x/></cb:localUid></cb:getDocumentFileRequest>`, nil},
		{"localUid too long", contentType(wssec.SOAP12), ActionGetDocumentFile, `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>` + strings.Repeat("a", maxLocalUID+1) + `</cb:localUid></cb:getDocumentFileRequest>`, nil},
		{"SOAP 1.2 sent as text/xml", "text/xml; charset=utf-8", ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status>`), nil},
		{"not a SOAP content type", "application/json", ActionCallback, resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status>`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, reason := tc.raw, ReasonMalformed
			if env == nil {
				env, reason = f.sign(t, message{action: tc.action, messageID: freshID(), body: tc.body}), ReasonBadRequest
			}
			got, err := f.inbox.Inbound(context.Background(), tc.contentType, env)
			if !errors.Is(err, ErrBadMessage) || errors.Is(err, seam.ErrUnauthenticated) {
				t.Fatalf("err %v (got %+v), want ErrBadMessage only", err, got)
			}
			if r := RefusalReason(err); r != reason {
				t.Fatalf("reason %q, want %q", r, reason)
			}
		})
	}
}

// Nothing of what a message or a certificate holds reaches an error text:
// the runtime logs them.
func TestInboundErrorsCarryNoPersonalData(t *testing.T) {
	const (
		name  = "Иванов Иван Иванович"
		snils = "11223344595"
	)
	f := newFixture(t, func(c *InboxConfig) {
		trust := c.Trust
		c.Trust = func(cert *x509.Certificate) error {
			if err := trust(cert); err != nil {
				return fmt.Errorf("certificate of %s (СНИЛС %s): %w", cert.Subject.CommonName, snils, err)
			}
			return nil
		}
	})
	personal := name + " " + snils
	for _, tc := range []struct {
		name string
		env  []byte
	}{
		{"untrusted personal certificate", f.sign(t, message{action: ActionCallback, messageID: freshID(), by: piSigner,
			body: resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status>`)})},
		{"personal data in a bad localUid", f.sign(t, message{action: ActionGetDocumentFile, messageID: freshID(),
			body: `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>` + strings.Repeat(personal+" ", 10) + `</cb:localUid></cb:getDocumentFileRequest>`})},
		{"personal data in a tampered body", tamper(t, f.sign(t, message{action: ActionCallback, messageID: freshID(),
			body: resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>PATIENT_MPI_MISMATCH</cb:code><cb:message>` + personal + `</cb:message></cb:item></cb:errors>`)}), snils, "11223344596")},
		{"personal data in a MessageID", f.sign(t, message{action: ActionCallback, messageID: personal,
			body: resultBody(`<cb:status>success</cb:status>`)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, pd := range []string{"Иванов", snils, "11223344596"} {
				if strings.Contains(err.Error(), pd) {
					t.Fatalf("error text %q quotes %q", err, pd)
				}
			}
		})
	}
}

// answerOf verifies an answer as РЭМД would (the gateway's certificate,
// Action, MessageID and RelatesTo signed) and returns it.
func (f *fixture) answerOf(t testing.TB, a seam.Answer) *wssec.Verified {
	t.Helper()
	v, err := wssec.Verify(a.Body, wssec.VerifyOptions{
		TrustCertificate: f.trustGateway,
		MustHave:         []wssec.Part{wssec.PartAction, wssec.PartMessageID, wssec.PartRelatesTo},
		Now:              f.now,
	})
	if err != nil {
		t.Fatalf("answer does not verify: %v\n%s", err, a.Body)
	}
	return v
}

func field(t testing.TB, e *xmldsig.Element, path ...string) string {
	t.Helper()
	for _, p := range path {
		cs := e.ChildrenNamed(NamespaceCallback, p)
		if len(cs) != 1 {
			t.Fatalf("%s: %d %s elements", e.Local, len(cs), p)
		}
		e = cs[0]
	}
	return e.Text()
}

func TestAnswer(t *testing.T) {
	f := newFixture(t, nil)
	cda := []byte(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Протокол</title></ClinicalDocument>`)
	const uid = "0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11"
	fileReq := `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>` + uid + `</cb:localUid></cb:getDocumentFileRequest>`
	type fileWant struct {
		status, code, mimeType string
		data                   []byte
	}
	cases := []struct {
		name    string
		version wssec.Version
		action  string
		body    string
		file    seam.File
		opName  string
		answerA string
		want    fileWant
	}{
		{"callback SOAP 1.2", wssec.SOAP12, ActionCallback,
			resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>1</cb:emdrId></cb:registryItem>`),
			seam.File{}, ElemCallbackAnswer, ActionCallbackAnswer, fileWant{status: StatusSuccess}},
		{"callback SOAP 1.1", wssec.SOAP11, ActionCallback,
			resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>DIGEST_MISMATCH</cb:code></cb:item></cb:errors>`),
			seam.File{}, ElemCallbackAnswer, ActionCallbackAnswer, fileWant{status: StatusSuccess}},
		{"file SOAP 1.2", wssec.SOAP12, ActionGetDocumentFile, fileReq,
			seam.File{Found: true, LocalUID: uid, MediaType: "application/x-cda+xml", Data: cda}, ElemFileResponse, ActionFileAnswer,
			fileWant{status: StatusSuccess, mimeType: "application/x-cda+xml", data: cda}},
		{"file SOAP 1.1, no media type", wssec.SOAP11, ActionGetDocumentFile, fileReq,
			seam.File{Found: true, LocalUID: uid, Data: cda}, ElemFileResponse, ActionFileAnswer,
			fileWant{status: StatusSuccess, mimeType: DefaultFileMediaType, data: cda}},
		{"file not held", wssec.SOAP12, ActionGetDocumentFile, fileReq,
			seam.File{}, ElemFileResponse, ActionFileAnswer, fileWant{status: StatusError, code: CodeFileNotFound}},
		{"file of another document", wssec.SOAP12, ActionGetDocumentFile, fileReq,
			seam.File{Found: true, LocalUID: "another", Data: cda}, ElemFileResponse, ActionFileAnswer, fileWant{status: StatusError, code: CodeFileError}},
		{"empty file", wssec.SOAP11, ActionGetDocumentFile, fileReq,
			seam.File{Found: true, LocalUID: uid}, ElemFileResponse, ActionFileAnswer, fileWant{status: StatusError, code: CodeFileError}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqID := freshID()
			m, err := f.inbox.Inbound(context.Background(), tc.version.ContentType(), f.sign(t, message{version: tc.version, action: tc.action, messageID: reqID, body: tc.body}))
			if err != nil {
				t.Fatal(err)
			}
			a := f.inbox.Answer(context.Background(), m, tc.file)
			if a.Status != http.StatusOK || a.ContentType != tc.version.ContentType() {
				t.Fatalf("status %d content type %q, want 200 %q", a.Status, a.ContentType, tc.version.ContentType())
			}
			v := f.answerOf(t, a)
			if v.Version != tc.version {
				t.Fatalf("answered in %v, asked in %v", v.Version, tc.version)
			}
			if v.Addressing.RelatesTo != reqID || v.Addressing.Action != tc.answerA || v.Addressing.MessageID == "" || v.Addressing.MessageID == reqID {
				t.Fatalf("addressing %+v, want RelatesTo %q, Action %q and a fresh MessageID", v.Addressing, reqID, tc.answerA)
			}
			ops := v.Body.Elements()
			if len(ops) != 1 || !ops[0].Is(NamespaceCallback, tc.opName) {
				t.Fatalf("body is not one %s: %s", tc.opName, a.Body)
			}
			op := ops[0]
			if s := field(t, op, "status"); s != tc.want.status {
				t.Fatalf("status %q, want %q", s, tc.want.status)
			}
			if tc.opName != ElemFileResponse {
				return
			}
			if u := field(t, op, "localUid"); u != uid {
				t.Fatalf("localUid %q", u)
			}
			if tc.want.code != "" {
				if c := field(t, op, "errors", "item", "code"); c != tc.want.code {
					t.Fatalf("code %q, want %q", c, tc.want.code)
				}
				if len(op.ChildrenNamed(NamespaceCallback, "document")) != 0 {
					t.Fatal("an error answer carries a document")
				}
				return
			}
			if mt := field(t, op, "document", "mimeType"); mt != tc.want.mimeType {
				t.Fatalf("mimeType %q, want %q", mt, tc.want.mimeType)
			}
			data, err := base64.StdEncoding.DecodeString(field(t, op, "document", "data"))
			if err != nil || !bytes.Equal(data, tc.want.data) {
				t.Fatalf("data %q (%v), want the file", data, err)
			}
		})
	}
}

// failingSigner has a certificate but cannot sign (a signing service down).
type failingSigner struct{ signer.Signer }

func (failingSigner) SignDigest(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("signing service unavailable")
}

func TestAnswerUnsignable(t *testing.T) {
	f := newFixture(t, nil)
	broken, err := NewInbox(InboxConfig{Trust: ca(t, "Тестовый УЦ ИПС").trust, Signer: failingSigner{f.gateway}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []wssec.Version{wssec.SOAP11, wssec.SOAP12} {
		t.Run(v.String(), func(t *testing.T) {
			m, err := broken.Inbound(context.Background(), v.ContentType(), f.sign(t, message{version: v, action: ActionCallback, messageID: freshID(),
				body: resultBody(`<cb:relatesToMessage>x</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>1</cb:emdrId></cb:registryItem>`)}))
			if err != nil {
				t.Fatal(err)
			}
			a := broken.Answer(context.Background(), m, seam.File{})
			if a.Status != http.StatusInternalServerError || a.ContentType != v.ContentType() {
				t.Fatalf("status %d %q, want 500 %q", a.Status, a.ContentType, v.ContentType())
			}
			root, err := xmldsig.Parse(a.Body, xmldsig.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !root.Is(v.Namespace(), "Envelope") || len(root.ChildrenNamed(v.Namespace(), "Body")) != 1 ||
				len(root.ChildrenNamed(v.Namespace(), "Body")[0].ChildrenNamed(v.Namespace(), "Fault")) != 1 {
				t.Fatalf("not a %v fault: %s", v, a.Body)
			}
		})
	}
}

func TestNewInboxConfig(t *testing.T) {
	signers(t)
	trust := func(*x509.Certificate) error { return nil }
	for _, tc := range []struct {
		name string
		cfg  InboxConfig
		ok   bool
	}{
		{"complete", InboxConfig{Trust: trust, Signer: gwSigner}, true},
		{"no trust", InboxConfig{Signer: gwSigner}, false},
		{"no signer", InboxConfig{Trust: trust}, false},
		{"signer without certificate", InboxConfig{Trust: trust, Signer: keySigner{}}, false},
		{"negative skew", InboxConfig{Trust: trust, Signer: gwSigner, ClockSkew: -time.Second}, false},
		{"negative capacity", InboxConfig{Trust: trust, Signer: gwSigner, ReplayCapacity: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewInbox(tc.cfg)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInboxConfig)) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// The same signed message delivered many times at once (a forger racing
// the registry's own delivery) is taken exactly once.
func TestInboundReplayRace(t *testing.T) {
	f := newFixture(t, nil)
	env := f.sign(t, message{action: ActionCallback, messageID: freshID(),
		body: resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>9</cb:emdrId></cb:registryItem>`)})
	const n = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		taken    int
		replayed int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), env)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case RefusalReason(err) == ReasonReplayed:
				replayed++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if taken != 1 || replayed != n-1 {
		t.Fatalf("taken %d, replayed %d; want 1 and %d", taken, replayed, n-1)
	}
}

// Whatever arrives, Inbound neither panics nor reads a message it did not
// authenticate: anything it accepts verifies as signed by РЭМД's key.
func FuzzInbound(f *testing.F) {
	fx := newFixture(f, func(c *InboxConfig) { c.ReplayCapacity = 1 })
	good := fx.sign(f, message{action: ActionCallback, messageID: freshID(), ttl: time.Hour,
		body: resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>error</cb:status><cb:errors><cb:item><cb:code>RATE_LIMIT</cb:code></cb:item></cb:errors>`)})
	f.Add(good, true)
	f.Add(fx.sign(f, message{version: wssec.SOAP11, action: ActionGetDocumentFile, messageID: freshID(), ttl: time.Hour,
		body: `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>u</cb:localUid></cb:getDocumentFileRequest>`}), false)
	f.Add([]byte(`<soap:Envelope xmlns:soap="`+wssec.NamespaceSOAP12+`"><soap:Header/><soap:Body/></soap:Envelope>`), true)
	remdCert := fx.remd.Certificate()
	f.Fuzz(func(t *testing.T, data []byte, soap12 bool) {
		ct := wssec.SOAP11.ContentType()
		if soap12 {
			ct = wssec.SOAP12.ContentType()
		}
		// A fresh Inbox each time: the replay cache must not decide.
		in, err := NewInbox(InboxConfig{Trust: ca(t, "Тестовый УЦ ИПС").trust, Signer: fx.gateway, Now: func() time.Time { return fx.now }})
		if err != nil {
			t.Fatal(err)
		}
		m, err := in.Inbound(context.Background(), ct, data)
		if err != nil {
			if RefusalReason(err) == "" {
				t.Fatalf("an error without a reason: %v", err)
			}
			return
		}
		v, verr := wssec.Verify(data, wssec.VerifyOptions{TrustCertificate: func(c *x509.Certificate) error {
			if !c.Equal(remdCert) {
				return errors.New("not РЭМД's")
			}
			return nil
		}, Now: fx.now})
		if verr != nil || v.Addressing.MessageID != m.MessageID {
			t.Fatalf("accepted a message that does not verify (%v): %+v", verr, m)
		}
	})
}

// Only Action and MessageID must be signed among the WS-Addressing
// headers; an unsigned one is accepted but never read: an unsigned
// RelatesTo names no call.
func TestInboundUnsignedRelatesTo(t *testing.T) {
	f := newFixture(t, nil)
	unsignedRelatesTo := func(body string) []byte {
		env := f.sign(t, message{action: ActionCallback, messageID: freshID(), body: body})
		return tamper(t, env, `<wsa:MessageID`, `<wsa:RelatesTo>`+callMessageID+`</wsa:RelatesTo><wsa:MessageID`)
	}
	t.Run("body names the call", func(t *testing.T) {
		got, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), unsignedRelatesTo(resultBody(`<cb:relatesToMessage>urn:uuid:named-in-body</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>5</cb:emdrId></cb:registryItem>`)))
		if err != nil || got.Result.MessageID != "urn:uuid:named-in-body" {
			t.Fatalf("got %+v, %v", got.Result, err)
		}
	})
	t.Run("only the unsigned header names it", func(t *testing.T) {
		got, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), unsignedRelatesTo(resultBody(`<cb:status>success</cb:status><cb:registryItem><cb:emdrId>5</cb:emdrId></cb:registryItem>`)))
		if !errors.Is(err, ErrBadMessage) {
			t.Fatalf("an unsigned RelatesTo was read: %+v, %v", got.Result, err)
		}
	})
}

// Content-Type parameters (charset, SOAP 1.2's action) do not matter; the
// media type decides the version.
func TestInboundContentTypeParameters(t *testing.T) {
	f := newFixture(t, nil)
	body := resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:registryItem><cb:emdrId>3</cb:emdrId></cb:registryItem>`)
	for _, tc := range []struct {
		ct string
		v  wssec.Version
	}{
		{`application/soap+xml;charset=UTF-8;action="` + ActionCallback + `"`, wssec.SOAP12},
		{`Application/SOAP+XML`, wssec.SOAP12},
		{`text/xml; charset="utf-8"`, wssec.SOAP11},
	} {
		t.Run(tc.ct, func(t *testing.T) {
			env := f.sign(t, message{version: tc.v, action: ActionCallback, messageID: freshID(), body: body})
			if got, err := f.inbox.Inbound(context.Background(), tc.ct, env); err != nil || !got.Result.Registered {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// An answer to a message this Inbox does not remember (or never read) is
// SOAP 1.2, РЭМД's own version; a message of no known kind gets a fault.
func TestAnswerUnknownMessage(t *testing.T) {
	f := newFixture(t, nil)
	a := f.inbox.Answer(context.Background(), seam.Inbound{Kind: seam.InboundFileRequest, MessageID: "urn:uuid:never-seen", LocalUID: "u"}, seam.File{})
	if v := f.answerOf(t, a); v.Version != wssec.SOAP12 || v.Addressing.RelatesTo != "urn:uuid:never-seen" {
		t.Fatalf("answered in %v relating to %q", v.Version, v.Addressing.RelatesTo)
	}
	if a := f.inbox.Answer(context.Background(), seam.Inbound{MessageID: "urn:uuid:x"}, seam.File{}); a.Status != http.StatusInternalServerError {
		t.Fatalf("a message of no kind answered %d", a.Status)
	}
}

// A signed MessageID of blanks names nothing to answer or to know a
// replay by: the message cannot be acted on.
func TestInboundBlankMessageID(t *testing.T) {
	f := newFixture(t, nil)
	env := f.sign(t, message{action: ActionCallback, messageID: "  ",
		body: resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status>`)})
	if _, err := f.inbox.Inbound(context.Background(), contentType(wssec.SOAP12), env); !errors.Is(err, ErrBadMessage) || RefusalReason(err) != ReasonBadRequest {
		t.Fatalf("err %v, want a bad request", err)
	}
}
