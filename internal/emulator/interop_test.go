package emulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/remd"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestInteropWithGatewayAdapter: the gateway's own adapters/remd (Build,
// Sign, Classify, Lookup, and the Inbox on a listener of the gateway's)
// against the emulator, which shares no XML code with it: a document is
// accepted, its file fetched through the Inbox, its result verified by the
// Inbox and read as registered under the event's MessageID; the lookup
// finds it; a re-send is reconciled; a request that disagrees with its
// file is rejected with РЭМД's code; an outage and a throttle are retried.
func TestInteropWithGatewayAdapter(t *testing.T) {
	p := thePKI(t)
	em, emu := startREMD(t)
	in, err := remd.NewInbox(remd.InboxConfig{Trust: p.trust, Signer: p.gateway})
	if err != nil {
		t.Fatal(err)
	}
	a, err := remd.New(remd.Config{ClientEntityID: "5d4f9a3e-2c1b-4e8f-9a7d-6b0c1e2f3a4b", To: emu.URL + REMDPath, Signer: p.gateway, Version: 2, Inbox: in})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	files := map[string][]byte{}
	var results []seam.CallbackResult
	var inboundErrs []error
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := a.Inbound(r.Context(), r.Header.Get("Content-Type"), body)
		if err != nil {
			mu.Lock()
			inboundErrs = append(inboundErrs, err)
			mu.Unlock()
			http.Error(w, "refused", 403)
			return
		}
		var f seam.File
		mu.Lock()
		switch m.Kind {
		case seam.InboundFileRequest:
			if d, ok := files[m.LocalUID]; ok {
				f = seam.File{Found: true, LocalUID: m.LocalUID, MediaType: "text/xml", Data: d}
			}
		case seam.InboundResult:
			results = append(results, m.Result)
		}
		mu.Unlock()
		ans := a.Answer(r.Context(), m, f)
		w.Header().Set("Content-Type", ans.ContentType)
		w.WriteHeader(ans.Status)
		_, _ = w.Write(ans.Body)
	}))
	defer gw.Close()

	send := func(call seam.Call) seam.Outcome {
		signed, err := a.Sign(context.Background(), call)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(signed.Method, emu.URL+REMDPath+signed.Path, bytes.NewReader(signed.Body))
		for k, v := range signed.Header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return a.Classify(signed, resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	value := func(ev topics.DocumentEvent) []byte {
		b, err := json.Marshal(topics.OutboundEvent{Kind: "document", PatientKey: "11223344595", DedupKey: "x", Version: 1,
			Source: ev.MOOID, ReceivedAt: "2026-03-20T15:10:00+03:00", Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	doc := makeDoc(t, uid1)
	files[uid1] = doc.File
	call, err := a.Build(value(doc.Event), "ce-1", gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	if out := send(call); out.Result != seam.Accepted {
		t.Fatalf("registerDocument: %+v", out)
	}
	waitResults := func(n int) []seam.CallbackResult {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := append([]seam.CallbackResult(nil), results...)
			errs := append([]error(nil), inboundErrs...)
			mu.Unlock()
			if len(errs) > 0 {
				t.Fatalf("the gateway's Inbox refused РЭМД's messages: %v", errs)
			}
			if len(got) >= n {
				return got
			}
		}
		t.Fatalf("fewer than %d results", n)
		return nil
	}
	first := waitResults(1)[0]
	if !first.Registered || first.MessageID != seam.MessageID("ce-1", 0) || !emdrIDForm.MatchString(first.RegistryID) {
		t.Fatalf("result %+v: want registered, for ce-1's MessageID", first)
	}
	if lk, ok := a.Lookup(call); ok {
		if out := send(lk); out.Result != seam.Registered || out.RegistryID != first.RegistryID {
			t.Errorf("lookup: %+v", out)
		}
	} else {
		t.Error("no lookup")
	}
	if out := send(call); out.Result != seam.Reconcile || len(out.Reasons) != 1 || out.Reasons[0].Code != codeAlreadyRegistered {
		t.Errorf("re-send: %+v", out)
	}

	// A document whose request disagrees with its file.
	doc2 := makeDoc(t, "3c2d7b1f-7a1e-4d54-8e1f-3b8f6c2d0e22")
	files[doc2.Event.LocalUID] = doc2.File
	ev := doc2.Event
	ev.Patient.FamilyName = "Смирнова"
	call2, err := a.Build(value(ev), "ce-2", gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	if out := send(call2); out.Result != seam.Accepted {
		t.Fatalf("registerDocument 2: %+v", out)
	}
	second := waitResults(2)[1]
	if second.Registered || second.MessageID != seam.MessageID("ce-2", 0) || len(second.Reasons) != 1 || second.Reasons[0].Code != codePatientMismatch || second.Retry {
		t.Fatalf("result %+v: want %s, not retried", second, codePatientMismatch)
	}

	for _, tc := range []struct {
		name   string
		faults Faults
		after  time.Duration
	}{
		{"outage", Faults{Down: true}, 0},
		{"throttle", Faults{Rate429: 1, RetryAfter: 61}, 61 * time.Second},
	} {
		em.SetFaults(REMD, tc.faults)
		if out := send(call); out.Result != seam.Retry || out.RetryAfter != tc.after {
			t.Errorf("%s: %+v, want retry after %v", tc.name, out, tc.after)
		}
	}
}
