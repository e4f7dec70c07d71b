package emulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// testPKI is a test's PKI: one test CA issues the gateway's and РЭМД's
// message keys and the document signers' certificates; a stranger CA
// issues a key nobody trusts.
type testPKI struct {
	docs          *semdtest.PKI
	gateway, remd signer.Signer
	stranger      signer.Signer
	trust         func(*x509.Certificate) error
}

// pkis are the PKIs by algorithm, made once: making keys is the slow part.
var pkis = struct {
	sync.Mutex
	by map[signer.Algorithm]*testPKI
}{by: map[signer.Algorithm]*testPKI{}}

// thePKI is the ГОСТ 2012-256 PKI.
func thePKI(t testing.TB) *testPKI { return pkiFor(t, signer.GOST2012_256) }

// pkiFor is the PKI of alg.
func pkiFor(t testing.TB, alg signer.Algorithm) *testPKI {
	t.Helper()
	pkis.Lock()
	defer pkis.Unlock()
	if p, ok := pkis.by[alg]; ok {
		return p
	}
	ctx := context.Background()
	now := time.Now()
	p := &testPKI{}
	var err error
	if p.docs, err = semdtest.NewPKI(ctx, alg, now); err != nil {
		t.Fatal(err)
	}
	if p.gateway, err = p.docs.Signer(ctx, gostx509.Subject{CommonName: "egisz-gateway", Organization: "egisz-gateway tests", Country: "RU"}); err != nil {
		t.Fatal(err)
	}
	if p.remd, err = p.docs.Signer(ctx, gostx509.Subject{CommonName: "РЭМД emulator", Organization: "egisz-gateway tests", Country: "RU"}); err != nil {
		t.Fatal(err)
	}
	stranger, err := semdtest.NewPKI(ctx, alg, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.stranger, err = stranger.Signer(ctx, gostx509.Subject{CommonName: "egisz-gateway", Country: "RU"}); err != nil {
		t.Fatal(err)
	}
	v, err := p.docs.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	p.trust = func(c *x509.Certificate) error {
		_, err := v.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
		return err
	}
	pkis.by[alg] = p
	return p
}

// exampleEvent is a document with a doctor and a head signing
// personally and the organisation's signature.
func exampleEvent(uid string) topics.DocumentEvent {
	return topics.DocumentEvent{
		Kind: "148", LocalUID: uid,
		DocumentID: topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.51", Extension: "DOC-" + uid},
		SetID:      topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.50", Extension: "SET-" + uid},
		Version:    1, CreatedAt: "2026-03-20T15:00:00+03:00", MOOID: "1.2.643.5.1.13.13.12.1.42.202",
		Patient: topics.Patient{SNILS: "11223344595", LocalID: "P-000123", FamilyName: "Иванова", GivenName: "Мария", Patronymic: "Петровна", BirthDate: "1985-03-21", Sex: "female"},
		Signers: []topics.Signer{
			{Role: "doctor", Person: &topics.Person{SNILS: "123-456-789 64", FamilyName: "Петров", GivenName: "Алексей", Patronymic: "Сергеевич", PostCode: "109"}, SignedAt: "2026-03-20T15:02:00+03:00"},
			{Role: "head", Person: &topics.Person{SNILS: "112-233-445 95", FamilyName: "Сидоров", GivenName: "Борис", Patronymic: "Ильич", PostCode: "4"}, SignedAt: "2026-03-20T15:03:00+03:00"},
			{Role: "organization", SignedAt: "2026-03-20T15:05:00+03:00"},
		},
	}
}

// makeDoc signs exampleEvent(uid) under the ГОСТ PKI.
func makeDoc(t testing.TB, uid string) semdtest.Document {
	t.Helper()
	return makeDocWith(t, thePKI(t), uid)
}

// makeDocWith signs exampleEvent(uid) under p.
func makeDocWith(t testing.TB, p *testPKI, uid string) semdtest.Document {
	t.Helper()
	doc, err := p.docs.Make(context.Background(), exampleEvent(uid))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// request is the registerDocumentRequest the test sends, field by field,
// so that a case changes one.
type request struct {
	LocalUID, Kind, Created, Org                           string
	PatientSNILS, Family, Given, Patronymic, Birth, Gender string
	Signers                                                []requestSigner
	OrgSignature                                           []byte
	Associations                                           [][2]string // target emdrId, type
}

type requestSigner struct {
	Last, First, Middle, SNILS string
	Signature                  []byte
	Checksum                   string // "" means the right one
}

// requestFor is the request that goes with doc, as the gateway would
// build it (written here independently of the gateway's builder).
func requestFor(doc semdtest.Document) request {
	ev := doc.Event
	r := request{
		LocalUID: ev.LocalUID, Kind: ev.Kind, Created: string(ev.CreatedAt), Org: ev.MOOID,
		PatientSNILS: ev.Patient.SNILS, Family: ev.Patient.FamilyName, Given: ev.Patient.GivenName,
		Patronymic: ev.Patient.Patronymic, Birth: string(ev.Patient.BirthDate), Gender: "2",
	}
	for i, s := range ev.Signers {
		if s.Person == nil {
			r.OrgSignature = doc.Signatures[i]
			continue
		}
		r.Signers = append(r.Signers, requestSigner{
			Last: s.Person.FamilyName, First: s.Person.GivenName, Middle: s.Person.Patronymic,
			SNILS: strings.NewReplacer("-", "", " ", "").Replace(s.Person.SNILS), Signature: doc.Signatures[i],
		})
	}
	return r
}

func opt(name, v string) string {
	if v == "" {
		return ""
	}
	return "<" + name + ">" + escape(v) + "</" + name + ">"
}

func signatureXML(der []byte, sum string) string {
	if sum == "" {
		sum = fmt.Sprint(crc32.ChecksumIEEE(der))
	}
	return "<data>" + base64.StdEncoding.EncodeToString(der) + "</data><checksum>" + sum + "</checksum>"
}

// xml is the request's body element.
func (r request) xml() []byte {
	var b strings.Builder
	b.WriteString(`<registerDocumentRequest xmlns="` + wire.NamespaceService + `">`)
	b.WriteString(opt("localUid", r.LocalUID) + opt("kind", r.Kind) + opt("creationDateTime", r.Created) + opt("organization", r.Org))
	b.WriteString("<patient>" + opt("snils", r.PatientSNILS) + opt("familyName", r.Family) + opt("givenName", r.Given) +
		opt("patronymic", r.Patronymic) + opt("birthDate", r.Birth) + opt("gender", r.Gender) + "</patient>")
	b.WriteString("<personalSignatures>")
	for _, s := range r.Signers {
		b.WriteString("<personalSignature><signer>" + opt("lastName", s.Last) + opt("firstName", s.First) + opt("middleName", s.Middle) +
			opt("snils", s.SNILS) + "</signer><signature>" + signatureXML(s.Signature, s.Checksum) + "</signature></personalSignature>")
	}
	b.WriteString("</personalSignatures>")
	if r.OrgSignature != nil {
		b.WriteString("<orgSignature>" + signatureXML(r.OrgSignature, "") + "</orgSignature>")
	}
	if len(r.Associations) > 0 {
		b.WriteString("<associations>")
		for _, a := range r.Associations {
			b.WriteString("<association>" + opt("target", a[0]) + opt("type", a[1]) + "</association>")
		}
		b.WriteString("</associations>")
	}
	b.WriteString("</registerDocumentRequest>")
	return []byte(b.String())
}

// fakeGateway is the gateway's callback listener: it verifies РЭМД's
// messages, serves files by localUid and records the results.
type fakeGateway struct {
	t   testing.TB
	pki *testPKI
	srv *httptest.Server
	// answerWith signs the gateway's answers (the gateway's key unless a
	// test changes it).
	answerWith signer.Signer

	mu      sync.Mutex
	files   map[string][]byte // localUid -> file served
	anyFile []byte            // served for a localUid not in files, when set
	results []result
	refused int
	hold    chan struct{} // when set, file requests wait for it to close
}

// result is one registerDocumentResult as the gateway received it.
type result struct {
	MessageID, RelatesTo, RelatesToMessage, Status, LocalUID, EMDRID string
	Codes                                                            []string
}

func newFakeGateway(t testing.TB) *fakeGateway {
	return newFakeGatewayWith(t, thePKI(t))
}

// newFakeGatewayWith is a started fakeGateway of the PKI p.
func newFakeGatewayWith(t testing.TB, p *testPKI) *fakeGateway {
	g := newUnstartedGateway(t, p)
	g.srv.Start()
	return g
}

// newUnstartedGateway is a fakeGateway whose server a test starts, once
// it has set the server's hooks.
func newUnstartedGateway(t testing.TB, p *testPKI) *fakeGateway {
	g := &fakeGateway{t: t, pki: p, files: map[string][]byte{}, answerWith: p.gateway}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := wssec.Verify(body, wssec.VerifyOptions{TrustCertificate: g.pki.trust, MustHave: []wssec.Part{wssec.PartAction, wssec.PartMessageID}})
	if err != nil {
		g.mu.Lock()
		g.refused++
		g.mu.Unlock()
		http.Error(w, "refused", http.StatusForbidden)
		return
	}
	el := v.Body.Elements()[0]
	rd := &reader{ns: wire.NamespaceCallback}
	var answer []byte
	switch v.Addressing.Action {
	case wire.ActionGetDocumentFile:
		g.mu.Lock()
		hold := g.hold
		g.mu.Unlock()
		if hold != nil {
			<-hold
		}
		uid := rd.opt(el, "localUid")
		g.mu.Lock()
		file, ok := g.files[uid]
		if !ok && g.anyFile != nil {
			file, ok = g.anyFile, true
		}
		g.mu.Unlock()
		a := `<getDocumentFileResponse xmlns="` + wire.NamespaceCallback + `"><localUid>` + escape(uid) + `</localUid>`
		if ok {
			a += `<status>success</status><document><mimeType>text/xml</mimeType><data>` + base64.StdEncoding.EncodeToString(file) + `</data></document>`
		} else {
			a += `<status>error</status><errors><item><code>` + wire.CodeFileNotFound + `</code><message>not held</message></item></errors>`
		}
		answer = []byte(a + `</getDocumentFileResponse>`)
	case wire.ActionCallback:
		res := result{MessageID: v.Addressing.MessageID, RelatesTo: v.Addressing.RelatesTo,
			RelatesToMessage: rd.opt(el, "relatesToMessage"), Status: rd.opt(el, "status"), LocalUID: rd.opt(el, "localUid"),
			EMDRID: rd.opt(rd.child(el, "registryItem"), "emdrId")}
		for _, it := range rd.items(el) {
			res.Codes = append(res.Codes, it.Code)
		}
		g.mu.Lock()
		g.results = append(g.results, res)
		g.mu.Unlock()
		answer = []byte(`<sendRegisterDocumentResultResponse xmlns="` + wire.NamespaceCallback + `"><status>success</status></sendRegisterDocumentResultResponse>`)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	out, err := wssec.Sign(r.Context(), g.answerWith, wssec.Envelope{Version: v.Version, Body: answer,
		Addressing: wssec.Addressing{MessageID: newMessageID(), RelatesTo: v.Addressing.MessageID}}, wssec.SignOptions{})
	if err != nil {
		g.t.Error(err)
		return
	}
	w.Header().Set("Content-Type", v.Version.ContentType())
	_, _ = w.Write(out)
}

func (g *fakeGateway) serveFile(uid string, file []byte) {
	g.mu.Lock()
	g.files[uid] = file
	g.mu.Unlock()
}

// wait returns the results once n have arrived.
func (g *fakeGateway) wait(t testing.TB, n int) []result {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		g.mu.Lock()
		if len(g.results) >= n {
			out := append([]result(nil), g.results...)
			g.mu.Unlock()
			return out
		}
		g.mu.Unlock()
	}
	t.Fatalf("fewer than %d results arrived", n)
	return nil
}

func (g *fakeGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.results)
}

// startREMD serves an emulator that signs with РЭМД's key and trusts the
// test CA.
func startREMD(t testing.TB) (*Emulator, *httptest.Server) {
	return startREMDWith(t, thePKI(t))
}

// startREMDWith serves an emulator of the PKI p.
func startREMDWith(t testing.TB, p *testPKI) (*Emulator, *httptest.Server) {
	em := NewFromConfig(Config{Signer: p.remd, Trust: p.trust, Log: quietLog()})
	srv := httptest.NewServer(em.Handler())
	t.Cleanup(func() { srv.Close(); em.Close() })
	return em, srv
}

// sent is what a call to РЭМД returned.
type sent struct {
	MessageID string
	HTTP      int
	Header    http.Header
	Body      []byte
}

// call signs body as the gateway (s) would and posts it to РЭМД.
func call(t testing.TB, s signer.Signer, url, action, replyTo string, body []byte) sent {
	t.Helper()
	id := newMessageID()
	msg, err := wssec.Sign(context.Background(), s, wssec.Envelope{
		Version:    wssec.SOAP12,
		Headers:    [][]byte{[]byte(`<egisz:transportHeader xmlns:egisz="` + wire.NamespaceTransport + `"><egisz:authInfo><egisz:clientEntityId>0b8a1c52-5c4e-4b4e-9d0e-3c1f6f7a2b11</egisz:clientEntityId></egisz:authInfo></egisz:transportHeader>`)},
		Addressing: wssec.Addressing{Action: action, MessageID: id, To: url, ReplyTo: replyTo, FaultTo: replyTo},
		Body:       body,
	}, wssec.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return post(t, url, id, msg)
}

func post(t testing.TB, url, id string, msg []byte) sent {
	t.Helper()
	resp, err := http.Post(url, wssec.SOAP12.ContentType(), bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return sent{MessageID: id, HTTP: resp.StatusCode, Header: resp.Header, Body: b}
}

// answer verifies a synchronous answer as РЭМД's and returns its body
// element's status and error codes; it checks RelatesTo.
func (s sent) answer(t *testing.T, elem string) (status string, codes []string, rd *reader, v *wssec.Verified) {
	t.Helper()
	if s.HTTP != http.StatusOK {
		t.Fatalf("HTTP %d: %s", s.HTTP, s.Body)
	}
	v, err := wssec.Verify(s.Body, wssec.VerifyOptions{TrustCertificate: thePKI(t).trust, MustHave: []wssec.Part{wssec.PartRelatesTo}})
	if err != nil {
		t.Fatalf("answer does not verify: %v", err)
	}
	if v.Addressing.RelatesTo != s.MessageID {
		t.Fatalf("answer relates to %q, want %q", v.Addressing.RelatesTo, s.MessageID)
	}
	el := v.Body.Elements()[0]
	if !el.Is(wire.NamespaceService, elem) {
		t.Fatalf("answer is {%s}%s, want %s", el.Space, el.Local, elem)
	}
	rd = &reader{ns: wire.NamespaceService}
	for _, it := range rd.items(el) {
		codes = append(codes, it.Code)
	}
	return rd.opt(el, "status"), codes, rd, v
}
