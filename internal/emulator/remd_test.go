package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const uid1 = "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11"

// TestREMDRegistersOverSOAP: a signed request for a real signed СЭМД is
// verified and accepted; РЭМД fetches the file from the sender's
// listener, checks it and sends a signed result relating to the request;
// the registration is then found by search and by emdrId, and a re-send
// is NOT_UNIQUE_PROVIDED_ID.
func TestREMDRegistersOverSOAP(t *testing.T) {
	p := thePKI(t)
	em, srv := startREMD(t)
	gw := newFakeGateway(t)
	doc := makeDoc(t, uid1)
	gw.serveFile(uid1, doc.File)
	url := srv.URL + REMDPath

	s := call(t, p.gateway, url, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
	if status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess || len(codes) != 0 {
		t.Fatalf("synchronous answer %s %v: want accepted", status, codes)
	}
	res := gw.wait(t, 1)[0]
	if res.Status != wire.StatusSuccess || !emdrIDForm.MatchString(res.EMDRID) || len(res.Codes) != 0 {
		t.Fatalf("result %+v: want success with an emdrId in the registry's form", res)
	}
	if res.RelatesTo != s.MessageID || res.RelatesToMessage != s.MessageID || res.LocalUID != uid1 || res.MessageID == s.MessageID {
		t.Fatalf("result %+v does not relate to the request %s", res, s.MessageID)
	}
	st := waitStats(t, em, func(st Stats) bool { return st.Callbacks == 1 })
	if st.FileRequests != 1 || st.FilesFetched != 1 || st.BadAnswers != 0 || st.Registered != 1 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}

	// searchRegistryItem by localUid finds it, with its emdrId; another
	// localUid, or another organization, finds nothing.
	for _, tc := range []struct {
		name, uid, org string
		want           int
	}{
		{"its localUid", uid1, doc.Event.MOOID, 1},
		{"another localUid", "3c2d7b1f-7a1e-4d54-8e1f-3b8f6c2d0e22", doc.Event.MOOID, 0},
		{"another organization", uid1, "1.2.643.5.1.13.13.12.1.42.203", 0},
	} {
		body := `<searchRegistryItemRequest xmlns="` + wire.NamespaceService + `"><localUid>` + tc.uid + `</localUid><organization>` + tc.org + `</organization><kind>148</kind></searchRegistryItemRequest>`
		status, _, rd, v := call(t, p.gateway, url, wire.ActionSearchRegistryItem, "", []byte(body)).answer(t, wire.ElemSearchResponse)
		items := rd.child(v.Body.Elements()[0], "matches").ChildrenNamed(wire.NamespaceService, "item")
		if status != wire.StatusSuccess || len(items) != tc.want {
			t.Fatalf("search by %s: %s, %d matches, want %d", tc.name, status, len(items), tc.want)
		}
		if tc.want == 1 && (rd.opt(items[0], "emdrId") != res.EMDRID || rd.opt(items[0], "localUid") != uid1 || rd.opt(items[0], "registrationDateTime") == "") {
			t.Fatalf("search by %s: match does not carry the registration", tc.name)
		}
	}
	body := `<getRegistryItemRequest xmlns="` + wire.NamespaceService + `"><emdrId>` + res.EMDRID + `</emdrId></getRegistryItemRequest>`
	_, _, rd, v := call(t, p.gateway, url, wire.ActionGetRegistryItem, "", []byte(body)).answer(t, wire.ElemGetItemResponse)
	if el := v.Body.Elements()[0]; rd.opt(el, "emdrId") != res.EMDRID || rd.opt(el, "storeTillDate") == "" {
		t.Fatalf("getRegistryItem does not give the registration")
	}
	body = `<getRegistryItemRequest xmlns="` + wire.NamespaceService + `"><emdrId>16.62.26.01.999999999</emdrId></getRegistryItemRequest>`
	if s := call(t, p.gateway, url, wire.ActionGetRegistryItem, "", []byte(body)); s.HTTP != http.StatusBadRequest || !strings.Contains(string(s.Body), codeObjectNotFound) {
		t.Fatalf("getRegistryItem of an unknown emdrId: %d %s", s.HTTP, s.Body)
	}

	// A re-send of the registered document.
	s = call(t, p.gateway, url, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
	if status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusError || !slices.Equal(codes, []string{codeAlreadyRegistered}) {
		t.Fatalf("re-send: %s %v, want %s", status, codes, codeAlreadyRegistered)
	}
	if st := em.Stats(REMD); st.Resent != 1 || st.Registered != 1 || gw.count() != 1 {
		t.Fatalf("after the re-send: stats %+v, %d results", st, gw.count())
	}
}

// waitStats waits until ok holds of РЭМД's counters.
func waitStats(t *testing.T, em *Emulator, ok func(Stats) bool) Stats {
	t.Helper()
	st := em.Stats(REMD)
	for deadline := time.Now().Add(5 * time.Second); !ok(st) && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		st = em.Stats(REMD)
	}
	if !ok(st) {
		t.Fatalf("stats %+v never came", st)
	}
	return st
}

// TestREMDRejectsOnItsOwnChecks: each fault of the file or of the request
// against the file is found by РЭМД's own checks after it fetched the
// file, and reported in the result with its code; the synchronous answer
// was "accepted" each time.
func TestREMDRejectsOnItsOwnChecks(t *testing.T) {
	p := thePKI(t)
	for i, tc := range []struct {
		name   string
		change func(r *request, served *[]byte, doc semdtest.Document)
		faults Faults
		want   []string
	}{
		{"another file than the one signed", func(r *request, served *[]byte, _ semdtest.Document) {
			*served = append(append([]byte(nil), (*served)...), ' ')
		}, Faults{}, []string{codeDigestMismatch}},
		{"a signature that does not verify", func(r *request, _ *[]byte, _ semdtest.Document) {
			der := append([]byte(nil), r.Signers[0].Signature...)
			der[len(der)-1] ^= 0x01 // the signature value ends the container
			r.Signers[0].Signature = der
		}, Faults{}, []string{codeSignatureInvalid}},
		{"the patient's family name", func(r *request, _ *[]byte, _ semdtest.Document) { r.Family = "Смирнова" }, Faults{}, []string{codePatientMismatch}},
		{"the patient's СНИЛС", func(r *request, _ *[]byte, _ semdtest.Document) { r.PatientSNILS = "12345678964" }, Faults{}, []string{codePatientMismatch}},
		{"the patient's birth date", func(r *request, _ *[]byte, _ semdtest.Document) { r.Birth = "1985-03-22" }, Faults{}, []string{codePatientMismatch}},
		{"the organization", func(r *request, _ *[]byte, _ semdtest.Document) { r.Org = "1.2.643.5.1.13.13.12.1.42.203" }, Faults{}, []string{codeAttributeMismatch}},
		{"the creation time", func(r *request, _ *[]byte, _ semdtest.Document) { r.Created = "2026-03-20T16:00:00+03:00" }, Faults{}, []string{codeAttributeMismatch}},
		{"the kind", func(r *request, _ *[]byte, _ semdtest.Document) { r.Kind = "141" }, Faults{}, []string{codeXMLValidation}},
		{"a signer's СНИЛС", func(r *request, _ *[]byte, _ semdtest.Document) { r.Signers[0].SNILS = "12345678965" },
			// Not its certificate's holder, not in the document, and the
			// document's author did not sign.
			Faults{}, []string{codeMetadataCertificate, codeDoctorSNILS, codeDoctorSNILS}},
		{"a signer's family name", func(r *request, _ *[]byte, _ semdtest.Document) { r.Signers[0].Last = "Петровский" }, Faults{}, []string{codeDoctorFamily}},
		{"a signer's patronymic", func(r *request, _ *[]byte, _ semdtest.Document) { r.Signers[1].Middle = "Петрович" }, Faults{}, []string{codeDoctorPatronymic}},
		{"the legal authenticator did not sign", func(r *request, _ *[]byte, _ semdtest.Document) { r.Signers = r.Signers[:1] }, Faults{}, []string{codeLegalAuthenticator}},
		{"signatures swapped between the signers", func(r *request, _ *[]byte, _ semdtest.Document) {
			r.Signers[0].Signature, r.Signers[1].Signature = r.Signers[1].Signature, r.Signers[0].Signature
		}, Faults{}, []string{codeMetadataCertificate, codeMetadataCertificate}},
		{"the sender does not hold the file", func(_ *request, served *[]byte, _ semdtest.Document) { *served = nil }, Faults{}, []string{wire.CodeFileNotFound}},
		{"a patient the faults reject", func(*request, *[]byte, semdtest.Document) {}, Faults{Reject: map[string]string{"11223344595": "DUPLICATE_PATIENT_FOUND"}}, []string{"DUPLICATE_PATIENT_FOUND"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, srv := startREMD(t)
			em.SetFaults(REMD, tc.faults)
			gw := newFakeGateway(t)
			uid := fmt.Sprintf("2b1c6a0e-6f0d-4c43-9d0f-%012d", i)
			doc := makeDoc(t, uid)
			req, served := requestFor(doc), doc.File
			tc.change(&req, &served, doc)
			if served != nil {
				gw.serveFile(uid, served)
			}
			s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, req.xml())
			if status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess {
				t.Fatalf("synchronous answer %s %v: want accepted", status, codes)
			}
			res := gw.wait(t, 1)[0]
			if res.Status != wire.StatusError || res.EMDRID != "" || !slices.Equal(res.Codes, tc.want) || res.RelatesToMessage != s.MessageID {
				t.Fatalf("result %+v: want error %v relating to %s", res, tc.want, s.MessageID)
			}
			st := waitStats(t, em, func(st Stats) bool { return st.Callbacks == 1 })
			if st.Rejected != 1 || st.Codes[tc.want[0]] != count(tc.want, tc.want[0]) {
				t.Fatalf("stats %+v: want one rejection counted by its codes %v", st, tc.want)
			}
			// A rejected document is not registered: a search finds nothing.
			body := `<searchRegistryItemRequest xmlns="` + wire.NamespaceService + `"><localUid>` + uid + `</localUid></searchRegistryItemRequest>`
			_, _, rd, v := call(t, p.gateway, srv.URL+REMDPath, wire.ActionSearchRegistryItem, "", []byte(body)).answer(t, wire.ElemSearchResponse)
			if n := len(rd.child(v.Body.Elements()[0], "matches").ChildrenNamed(wire.NamespaceService, "item")); n != 0 {
				t.Fatalf("a rejected document is found %d times", n)
			}
		})
	}
}

// TestREMDValidatesTheRequest: what is wrong with the request itself is
// answered at once, status=error with the items, HTTP 200, and nothing
// is fetched.
func TestREMDValidatesTheRequest(t *testing.T) {
	p := thePKI(t)
	ctx := context.Background()
	for i, tc := range []struct {
		name   string
		change func(r *request, doc semdtest.Document)
		want   []string
	}{
		{"no localUid", func(r *request, _ semdtest.Document) { r.LocalUID = "" }, []string{codeValidation}},
		{"localUid not a UUID", func(r *request, _ semdtest.Document) { r.LocalUID = "DOC-1" }, []string{codeValidation}},
		{"creation time without an offset", func(r *request, _ semdtest.Document) { r.Created = "2026-03-20T15:00:00" }, []string{codeValidation}},
		{"no patient family name", func(r *request, _ semdtest.Document) { r.Family = "" }, []string{codeValidation}},
		{"gender outside НСИ 1040", func(r *request, _ semdtest.Document) { r.Gender = "female" }, []string{codeValidation}},
		{"no personal signature", func(r *request, _ semdtest.Document) { r.Signers = nil }, []string{codeValidation}},
		{"a wrong checksum", func(r *request, _ semdtest.Document) { r.Signers[0].Checksum = "12345" }, []string{codeValidation}},
		{"a signature that is not CMS", func(r *request, _ semdtest.Document) { r.Signers[0].Signature = []byte("not a signature") }, []string{codeSignatureFormat}},
		{"signatures over different files", func(r *request, doc semdtest.Document) {
			sg, err := p.docs.SignerFor(ctx, doc.Event.Signers[1], doc.Event.MOOID)
			if err != nil {
				t.Fatal(err)
			}
			other, err := semdtest.SignFile(ctx, sg, append(append([]byte(nil), doc.File...), ' '), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.Signers[1].Signature = other
		}, []string{codeInconsistentDigests}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, srv := startREMD(t)
			gw := newFakeGateway(t)
			doc := makeDoc(t, fmt.Sprintf("4d3e8c20-8b2f-4e65-9f20-%012d", i))
			gw.serveFile(doc.Event.LocalUID, doc.File)
			req := requestFor(doc)
			tc.change(&req, doc)
			s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, req.xml())
			status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse)
			if status != wire.StatusError || !slices.Equal(codes, tc.want) {
				t.Fatalf("answer %s %v, want error %v", status, codes, tc.want)
			}
			if st := em.Stats(REMD); st.Rejected != 1 || st.Codes[tc.want[0]] != 1 || st.Registered != 0 || st.FileRequests != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestREMDRefusesUnauthenticatedMessages: a message not signed by a
// certificate РЭМД trusts is refused with a Sender fault and counted, and
// acts on nothing.
func TestREMDRefusesUnauthenticatedMessages(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	body := requestFor(doc).xml()
	signed := func(t *testing.T) []byte {
		msg, err := wssec.Sign(context.Background(), p.gateway, wssec.Envelope{Version: wssec.SOAP12, Body: body,
			Addressing: wssec.Addressing{Action: wire.ActionRegisterDocument, MessageID: newMessageID()}}, wssec.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	for _, tc := range []struct {
		name string
		msg  func(t *testing.T, gw string) []byte
		want int
	}{
		{"unsigned", func(*testing.T, string) []byte {
			return []byte(`<soap:Envelope xmlns:soap="` + wssec.NamespaceSOAP12 + `" xmlns:wsa="` + wssec.NamespaceWSA + `"><soap:Header><wsa:Action>registerDocument</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID></soap:Header><soap:Body>` + string(body) + `</soap:Body></soap:Envelope>`)
		}, http.StatusForbidden},
		{"signed by an untrusted key", func(t *testing.T, gw string) []byte {
			msg, err := wssec.Sign(context.Background(), p.stranger, wssec.Envelope{Version: wssec.SOAP12, Body: body,
				Addressing: wssec.Addressing{Action: wire.ActionRegisterDocument, MessageID: newMessageID(), ReplyTo: gw}}, wssec.SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return msg
		}, http.StatusForbidden},
		{"body changed after signing", func(t *testing.T, _ string) []byte {
			return []byte(strings.Replace(string(signed(t)), "Иванова", "Смирнова", 1))
		}, http.StatusForbidden},
		{"expired", func(t *testing.T, _ string) []byte {
			msg, err := wssec.Sign(context.Background(), p.gateway, wssec.Envelope{Version: wssec.SOAP12, Body: body,
				Addressing: wssec.Addressing{Action: wire.ActionRegisterDocument, MessageID: newMessageID()}},
				wssec.SignOptions{Now: time.Now().Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return msg
		}, http.StatusForbidden},
		{"not XML", func(*testing.T, string) []byte { return []byte("registerDocument please") }, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, srv := startREMD(t)
			gw := newFakeGateway(t)
			gw.serveFile(uid1, doc.File)
			s := post(t, srv.URL+REMDPath, "", tc.msg(t, gw.srv.URL))
			if s.HTTP != tc.want || !strings.Contains(string(s.Body), "soap:Sender") {
				t.Fatalf("HTTP %d %s: want %d with a Sender fault", s.HTTP, s.Body, tc.want)
			}
			time.Sleep(50 * time.Millisecond) // time for anything wrongly started
			if st := em.Stats(REMD); st.Refused != 1 || st.Registered != 0 || st.FileRequests != 0 || gw.count() != 0 {
				t.Fatalf("stats %+v, %d results: want one refusal and nothing done", st, gw.count())
			}
		})
	}
	// Without a signer, a good message gets a Receiver fault and nothing
	// is recorded.
	noSigner := NewFromConfig(Config{Trust: p.trust, Log: quietLog()})
	nsrv := httptest.NewServer(noSigner.Handler())
	defer func() { nsrv.Close(); noSigner.Close() }()
	if s := call(t, p.gateway, nsrv.URL+REMDPath, wire.ActionRegisterDocument, "", body); s.HTTP != http.StatusInternalServerError || noSigner.Stats(REMD).Registered != 0 {
		t.Fatalf("no signer: HTTP %d, stats %+v", s.HTTP, noSigner.Stats(REMD))
	}
	// Without a trust configured, even a good message is refused.
	em := NewFromConfig(Config{Signer: p.remd, Log: quietLog()})
	srv := httptest.NewServer(em.Handler())
	defer func() { srv.Close(); em.Close() }()
	if s := post(t, srv.URL+REMDPath, "", signed(t)); s.HTTP != http.StatusForbidden || em.Stats(REMD).Refused != 1 {
		t.Fatalf("no trust: HTTP %d, stats %+v", s.HTTP, em.Stats(REMD))
	}
}

// faultOf parses a SOAP 1.2 fault: its Code/Value and the codes of the
// errors/item in its Detail.
func faultOf(t *testing.T, body []byte) (value string, codes []string) {
	t.Helper()
	root, err := xmldsig.Parse(body, xmldsig.Limits{})
	if err != nil {
		t.Fatalf("fault: %v", err)
	}
	const ns = wssec.NamespaceSOAP12
	soapBody := root.ChildrenNamed(ns, "Body")
	if len(soapBody) != 1 {
		t.Fatalf("fault without a Body: %s", body)
	}
	faults := soapBody[0].ChildrenNamed(ns, "Fault")
	if len(faults) != 1 {
		t.Fatalf("not a fault: %s", body)
	}
	for _, c := range faults[0].ChildrenNamed(ns, "Code") {
		for _, v := range c.ChildrenNamed(ns, "Value") {
			value = v.Text()
		}
	}
	rd := &reader{ns: wire.NamespaceService}
	for _, d := range faults[0].ChildrenNamed(ns, "Detail") {
		for _, it := range rd.items(d) {
			codes = append(codes, it.Code)
		}
	}
	return value, codes
}

// TestREMDFaults: the injected faults answer as ИПС would, before the
// message is even read: an outage 503, a throttle 429 with Retry-After
// and RATE_LIMIT, an internal error 500, each a Receiver fault; a patient
// listed unavailable gets 503 too. Nothing is registered.
func TestREMDFaults(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	for _, tc := range []struct {
		name       string
		faults     Faults
		status     int
		retryAfter string
		codes      []string
	}{
		{"outage", Faults{Down: true}, http.StatusServiceUnavailable, "", []string{codeRuntime}},
		{"throttle", Faults{Rate429: 1, RetryAfter: 7}, http.StatusTooManyRequests, "7", []string{codeRateLimit}},
		{"internal error", Faults{Rate500: 1}, http.StatusInternalServerError, "", []string{codeInternal}},
		{"an unavailable patient", Faults{Unavailable: []string{"11223344595"}}, http.StatusServiceUnavailable, "", []string{codeRuntime}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, srv := startREMD(t)
			em.SetFaults(REMD, tc.faults)
			gw := newFakeGateway(t)
			gw.serveFile(uid1, doc.File)
			s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
			value, codes := faultOf(t, s.Body)
			if s.HTTP != tc.status || s.Header.Get("Retry-After") != tc.retryAfter || value != "soap:Receiver" || !slices.Equal(codes, tc.codes) {
				t.Fatalf("HTTP %d Retry-After %q, fault %s %v: want %d %q Receiver %v", s.HTTP, s.Header.Get("Retry-After"), value, codes, tc.status, tc.retryAfter, tc.codes)
			}
			if st := em.Stats(REMD); st.Faulted != 1 || st.Registered != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestREMDCallbackTiming: the knobs that make results early, late,
// repeated or lost, and the same answer to a re-send while the document
// is being processed.
func TestREMDCallbackTiming(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	register := func(t *testing.T, f Faults) (*Emulator, *fakeGateway, sent) {
		em, srv := startREMD(t)
		em.SetFaults(REMD, f)
		gw := newFakeGateway(t)
		gw.serveFile(uid1, doc.File)
		s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
		if status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess {
			t.Fatalf("answer %s %v", status, codes)
		}
		return em, gw, s
	}
	t.Run("early", func(t *testing.T) {
		_, gw, s := register(t, Faults{EarlyCallback: true})
		if gw.count() != 1 {
			t.Fatalf("%d results when the synchronous answer came, want 1", gw.count())
		}
		if res := gw.wait(t, 1)[0]; res.Status != wire.StatusSuccess || res.RelatesTo != s.MessageID {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("late", func(t *testing.T) {
		start := time.Now()
		em, gw, _ := register(t, Faults{CallbackDelay: 300 * time.Millisecond})
		waitStats(t, em, func(st Stats) bool { return st.FilesFetched == 1 })
		if gw.count() != 0 {
			t.Fatal("the result came before the delay")
		}
		gw.wait(t, 1)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("the result came after %v, want at least the delay", d)
		}
	})
	t.Run("repeated", func(t *testing.T) {
		_, gw, s := register(t, Faults{CallbackRepeats: 2})
		got := gw.wait(t, 3)
		ids := map[string]bool{}
		for _, r := range got {
			ids[r.MessageID] = true
			if r.RelatesToMessage != s.MessageID || r.EMDRID != got[0].EMDRID || r.Status != wire.StatusSuccess {
				t.Fatalf("repeat %+v differs from the first %+v", r, got[0])
			}
		}
		if len(ids) != 3 {
			t.Fatalf("%d distinct MessageIDs among 3 results: each repeat must be a message of its own", len(ids))
		}
	})
	t.Run("dropped, then found by search", func(t *testing.T) {
		em, gw, _ := register(t, Faults{RateDropCallbk: 1})
		waitStats(t, em, func(st Stats) bool { return st.FilesFetched == 1 })
		time.Sleep(50 * time.Millisecond)
		if gw.count() != 0 || em.Stats(REMD).Callbacks != 0 {
			t.Fatal("a dropped result was sent")
		}
	})
	t.Run("re-sent while processing", func(t *testing.T) {
		em, srv := startREMD(t)
		gw := newFakeGateway(t)
		gw.serveFile(uid1, doc.File)
		hold := make(chan struct{})
		gw.hold = hold
		first := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
		waitStats(t, em, func(st Stats) bool { return st.FileRequests == 1 })
		again := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
		for _, s := range []sent{first, again} {
			if status, codes, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess {
				t.Fatalf("answer %s %v: a re-send while processing is answered as the first", status, codes)
			}
		}
		close(hold)
		res := gw.wait(t, 1)
		time.Sleep(100 * time.Millisecond)
		if gw.count() != 1 || res[0].RelatesTo != first.MessageID {
			t.Fatalf("%d results, the first relating to %s: want one, to the first request", gw.count(), res[0].RelatesTo)
		}
		if st := em.Stats(REMD); st.Registered != 1 || st.Resent != 1 || st.FileRequests != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestREMDFileFetchFailures: when РЭМД cannot get a trustworthy file from
// the sender, the result says so with the codes of НСИ 305, and a sender's
// answer to a result that does not verify is counted.
func TestREMDFileFetchFailures(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	t.Run("the sender is down", func(t *testing.T) {
		em, srv := startREMD(t)
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		gw := newFakeGateway(t) // receives nothing: ReplyTo is the closed server
		s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, down.URL, requestFor(doc).xml())
		if status, _, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess {
			t.Fatalf("answer %s", status)
		}
		waitStats(t, em, func(st Stats) bool { return st.Rejected == 1 })
		if st := em.Stats(REMD); st.Codes[codeMISNotAvailable] != 1 || st.FilesFetched != 0 || gw.count() != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("the file's answer is signed by an untrusted key", func(t *testing.T) {
		em, srv := startREMD(t)
		gw := newFakeGateway(t)
		gw.serveFile(uid1, doc.File)
		gw.answerWith = p.stranger
		call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, requestFor(doc).xml())
		res := gw.wait(t, 1)[0]
		if res.Status != wire.StatusError || !slices.Equal(res.Codes, []string{wire.CodeFileError}) {
			t.Fatalf("result %+v: want %s", res, wire.CodeFileError)
		}
		// The result was delivered, but its answer (signed by the
		// stranger too) is counted as bad.
		if st := waitStats(t, em, func(st Stats) bool { return st.Callbacks == 1 }); st.BadAnswers != 1 || st.FilesFetched != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestCallsReuseConnections: РЭМД's calls to the sender (a file request
// and a result per document) that overlap go over connections kept open,
// not a new connection each, as a busy gateway would otherwise spend its
// time accepting and closing them; and a burst of more calls than the
// bound waits for a connection instead of dialing one for each.
func TestCallsReuseConnections(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	const bound = 8
	for _, tc := range []struct {
		name             string
		rounds, perRound int
		maxConns         int
	}{
		{"rounds that overlap", 3, bound, 2 * bound},
		{"a burst beyond the bound", 1, 3 * bound, bound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, srv := startREMD(t)
			em.client = callbackClient(nil, bound)
			gw := newUnstartedGateway(t, p)
			gw.anyFile = doc.File
			var mu sync.Mutex
			dialed := 0
			gw.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					dialed++
					mu.Unlock()
				}
			}
			slow := gw.srv.Config.Handler
			gw.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // so that the calls overlap
				slow.ServeHTTP(w, r)
			})
			gw.srv.Start()
			req := requestFor(doc)
			for round := range tc.rounds {
				var wg sync.WaitGroup
				for i := range tc.perRound {
					r := req
					r.LocalUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", round*tc.perRound+i)
					wg.Go(func() {
						s := call(t, p.gateway, srv.URL+REMDPath, wire.ActionRegisterDocument, gw.srv.URL, r.xml())
						if s.HTTP != http.StatusOK {
							t.Errorf("document %s: HTTP %d", r.LocalUID, s.HTTP)
						}
					})
				}
				wg.Wait()
				gw.wait(t, (round+1)*tc.perRound)
			}
			results := gw.wait(t, tc.rounds*tc.perRound)
			for _, r := range results {
				if r.Status != wire.StatusSuccess {
					t.Fatalf("result %+v", r)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if dialed > tc.maxConns {
				t.Errorf("%d documents (two calls each) opened %d connections; want at most %d", len(results), dialed, tc.maxConns)
			}
			t.Logf("%d documents, %d calls, over %d connections", len(results), 2*len(results), dialed)
		})
	}
}

// TestREMDEnvelopeRules: a SOAP 1.1 request is answered in SOAP 1.1; a
// signed request without ИПС's clientEntityId, or with an Action РЭМД does
// not have, is a Sender fault.
func TestREMDEnvelopeRules(t *testing.T) {
	p := thePKI(t)
	doc := makeDoc(t, uid1)
	em, srv := startREMD(t)
	gw := newFakeGateway(t)
	gw.serveFile(uid1, doc.File)
	sign := func(v wssec.Version, headers [][]byte, action string) (string, []byte) {
		id := newMessageID()
		msg, err := wssec.Sign(context.Background(), p.gateway, wssec.Envelope{Version: v, Headers: headers, Body: requestFor(doc).xml(),
			Addressing: wssec.Addressing{Action: action, MessageID: id, ReplyTo: gw.srv.URL}}, wssec.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return id, msg
	}
	header := [][]byte{[]byte(`<egisz:transportHeader xmlns:egisz="` + wire.NamespaceTransport + `"><egisz:authInfo><egisz:clientEntityId>0b8a1c52-5c4e-4b4e-9d0e-3c1f6f7a2b11</egisz:clientEntityId></egisz:authInfo></egisz:transportHeader>`)}

	id, msg := sign(wssec.SOAP11, header, wire.ActionRegisterDocument)
	resp, err := http.Post(srv.URL+REMDPath, wssec.SOAP11.ContentType(), strings.NewReader(string(msg)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	status, _, _, v := sent{MessageID: id, HTTP: resp.StatusCode, Body: b}.answer(t, wire.ElemRegisterResponse)
	if status != wire.StatusSuccess || v.Version != wssec.SOAP11 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("SOAP 1.1 request answered %s in %v (%s)", status, v.Version, resp.Header.Get("Content-Type"))
	}
	gw.wait(t, 1)

	for _, tc := range []struct {
		name    string
		headers [][]byte
		action  string
	}{
		{"no clientEntityId", nil, wire.ActionRegisterDocument},
		{"a clientEntityId that is not a GUID", [][]byte{[]byte(`<egisz:transportHeader xmlns:egisz="` + wire.NamespaceTransport + `"><egisz:authInfo><egisz:clientEntityId>МИС</egisz:clientEntityId></egisz:authInfo></egisz:transportHeader>`)}, wire.ActionRegisterDocument},
		{"an unknown Action", header, "registerDocuments"},
		{"an Action that does not fit the body", header, wire.ActionSearchRegistryItem},
	} {
		_, msg := sign(wssec.SOAP12, tc.headers, tc.action)
		s := post(t, srv.URL+REMDPath, "", msg)
		if value, _ := faultOf(t, s.Body); s.HTTP != http.StatusBadRequest || value != "soap:Sender" {
			t.Errorf("%s: HTTP %d %s, want a 400 Sender fault", tc.name, s.HTTP, value)
		}
	}
	if st := em.Stats(REMD); st.Registered != 1 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// count is how often s occurs in list.
func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// A document links only to a registered one: an association whose
// target РЭМД does not hold is CAN_NOT_ASSOCIATE, one to the registered
// first version is registered with it.
func TestREMDAssociatesOnlyWithRegisteredDocuments(t *testing.T) {
	p := thePKI(t)
	em, srv := startREMD(t)
	gw := newFakeGateway(t)
	const uid2 = "5d0e4a2b-8c1f-4e6a-9b3d-7f2a1c0e9d44"
	first, second := makeDoc(t, uid1), makeDoc(t, uid2)
	gw.serveFile(uid1, first.File)
	gw.serveFile(uid2, second.File)
	url := srv.URL + REMDPath
	s := call(t, p.gateway, url, wire.ActionRegisterDocument, gw.srv.URL, requestFor(first).xml())
	if status, _, _, _ := s.answer(t, wire.ElemRegisterResponse); status != wire.StatusSuccess {
		t.Fatalf("first version: %s", status)
	}
	registered := gw.wait(t, 1)[0].EMDRID
	for _, tc := range []struct {
		name   string
		target string
		want   []string
	}{
		{"a target РЭМД does not hold", "16.62.26.01.999999999", []string{codeCanNotAssociate}},
		{"the registered first version", registered, nil},
	} {
		r := requestFor(second)
		r.Associations = [][2]string{{tc.target, "1"}}
		status, codes, _, _ := call(t, p.gateway, url, wire.ActionRegisterDocument, gw.srv.URL, r.xml()).answer(t, wire.ElemRegisterResponse)
		if !slices.Equal(codes, tc.want) || (tc.want == nil) != (status == wire.StatusSuccess) {
			t.Fatalf("%s: %s %v, want %v", tc.name, status, codes, tc.want)
		}
	}
	if res := gw.wait(t, 2)[1]; res.Status != wire.StatusSuccess || res.LocalUID != uid2 {
		t.Fatalf("the second version's result %+v, want registered", res)
	}
	if st := waitStats(t, em, func(st Stats) bool { return st.Registered == 2 }); st.Codes[codeCanNotAssociate] != 1 {
		t.Fatalf("stats %+v, want one CAN_NOT_ASSOCIATE", st)
	}
}
