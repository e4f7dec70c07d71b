package emulator

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
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
