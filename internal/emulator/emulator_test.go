package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// callbacks is the sender's callback endpoint, a real HTTP server.
type callbacks struct {
	mu  sync.Mutex
	got []Callback
	srv *httptest.Server
}

func newCallbacks(t *testing.T) *callbacks {
	c := &callbacks{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb Callback
		if err := json.NewDecoder(r.Body).Decode(&cb); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c.mu.Lock()
		c.got = append(c.got, cb)
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbacks) wait(t *testing.T, n int) []Callback {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]Callback(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
	}
	t.Fatalf("fewer than %d callbacks arrived", n)
	return nil
}

func start(t *testing.T, callbackURL string) (*Emulator, *httptest.Server) {
	em := New(callbackURL, nil)
	srv := httptest.NewServer(em.Handler())
	t.Cleanup(func() { srv.Close(); em.Close() })
	return em, srv
}

func post(t *testing.T, url, key string, body any) (int, Answer, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Answer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a, resp.Header
}

var emdrIDForm = regexp.MustCompile(`^[0-9]{2}[.][0-9]{2}[.][0-9]{3,4}[.][0-9]{9}$|^[0-9]{1,3}[.][0-9]{2}[.][0-9]{2}[.][0-9]{2}[.][0-9]{9}$`)

func doc(uid, snils string) map[string]any {
	return map[string]any{"request_id": "req-" + uid, "local_uid": uid, "kind": "34", "patient": map[string]any{"snils": snils}}
}

func TestREMDAcceptsThenCallsBackAndRefusesAResend(t *testing.T) {
	cbs := newCallbacks(t)
	em, srv := start(t, cbs.srv.URL)
	code, a, _ := post(t, srv.URL+"/remd/registerDocument", "ce-1", doc("2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11", "11223344595"))
	if code != 200 || a.Status != "success" || a.EMDRID != "" {
		t.Fatalf("synchronous answer %d %+v: want accepted without a registration number", code, a)
	}
	got := cbs.wait(t, 1)
	if got[0].Status != "success" || !emdrIDForm.MatchString(got[0].EMDRID) || got[0].ResponseToRequestID != "req-2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11" {
		t.Fatalf("callback %+v: want success with an emdrId in the registry's form", got[0])
	}
	code, a, _ = post(t, srv.URL+"/remd/registerDocument", "ce-2", doc("2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11", "11223344595"))
	if code != http.StatusConflict || len(a.Errors) != 1 || a.Errors[0].Code != "NOT_UNIQUE_PROVIDED_ID" {
		t.Fatalf("re-send: %d %+v", code, a)
	}
	resp, err := http.Get(srv.URL + "/remd/registryItem?local_uid=2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11")
	if err != nil {
		t.Fatal(err)
	}
	var item Answer
	_ = json.NewDecoder(resp.Body).Decode(&item)
	resp.Body.Close()
	if item.EMDRID != got[0].EMDRID {
		t.Fatalf("reconciliation gives %q, the callback gave %q", item.EMDRID, got[0].EMDRID)
	}
	// The emulator counts a callback once the receiver has answered it,
	// which is just after the receiver has seen it.
	st := em.Stats(REMD)
	for deadline := time.Now().Add(2 * time.Second); st.Callbacks == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		st = em.Stats(REMD)
	}
	if st.Registered != 1 || st.Resent != 1 || st.Callbacks != 1 || st.Requests != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestChosenRejections(t *testing.T) {
	cbs := newCallbacks(t)
	em, srv := start(t, cbs.srv.URL)
	em.SetFaults(REMD, Faults{Reject: map[string]string{"11223344595": "PATIENT_MPI_MISMATCH"}})
	em.SetFaults(IEMK, Faults{Reject: map[string]string{"11223344595": "XDSUnknownPatientId"}})

	if code, _, _ := post(t, srv.URL+"/remd/registerDocument", "k", doc("u-1", "11223344595")); code != 200 {
		t.Fatalf("РЭМД answers a document it will reject with %d; it accepts first", code)
	}
	got := cbs.wait(t, 1)
	if got[0].Status != "error" || len(got[0].Errors) != 1 || got[0].Errors[0].Code != "PATIENT_MPI_MISMATCH" {
		t.Fatalf("callback %+v", got[0])
	}
	code, a, _ := post(t, srv.URL+"/iemk/cases", "k2", map[string]any{"action": "add", "patient": map[string]any{"snils": "11223344595"}})
	if code != http.StatusUnprocessableEntity || a.Errors[0].Code != "XDSUnknownPatientId" {
		t.Fatalf("ИЭМК rejection: %d %+v", code, a)
	}
	// Another patient goes through.
	if code, a, _ := post(t, srv.URL+"/iemk/cases", "k3", map[string]any{"action": "add", "patient": map[string]any{"snils": "12345678964"}}); code != 200 || a.ID == "" {
		t.Fatalf("another patient: %d %+v", code, a)
	}
}

func TestFaults(t *testing.T) {
	_, srv := start(t, "")
	set := func(reg string, f Faults) {
		b, _ := json.Marshal(f)
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/admin/faults/"+reg, bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("set faults: %v %v", err, resp)
		}
	}
	body := map[string]any{"number": "000731"}

	set(ERX, Faults{Down: true})
	if code, _, _ := post(t, srv.URL+"/erx/prescriptions", "a", body); code != 503 {
		t.Errorf("down: %d", code)
	}
	set(ERX, Faults{Rate429: 1, RetryAfter: 7})
	if code, a, h := post(t, srv.URL+"/erx/prescriptions", "a", body); code != 429 || h.Get("Retry-After") != "7" || a.Errors[0].Code != "RATE_LIMIT" {
		t.Errorf("429: %d %q %+v", code, h.Get("Retry-After"), a)
	}
	set(ERX, Faults{RateTimeout: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/erx/prescriptions", bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Idempotency-Key", "t")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("timeout fault answered")
	}
	set(ERX, Faults{LatencyMin: 50 * time.Millisecond, LatencyMax: 60 * time.Millisecond})
	start := time.Now()
	if code, _, _ := post(t, srv.URL+"/erx/prescriptions", "late", body); code != 200 {
		t.Errorf("latency: %d", code)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("answered before the configured minimum latency")
	}

	set(ERX, Faults{Rate503: 0.3})
	n503 := 0
	for i := 0; i < 1000; i++ {
		if code, _, _ := post(t, srv.URL+"/erx/prescriptions", fmt.Sprintf("r%d", i), body); code == 503 {
			n503++
		}
	}
	if n503 < 240 || n503 > 360 {
		t.Errorf("30%% 503 gave %d of 1000", n503)
	}
	if code, a, _ := post(t, srv.URL+"/erx/prescriptions", "", body); code != 400 && code != 503 {
		t.Errorf("no idempotency key: %d %+v", code, a)
	}
}

func TestResendsAreCountedApart(t *testing.T) {
	em, srv := start(t, "")
	for i := 0; i < 3; i++ {
		if code, _, _ := post(t, srv.URL+"/erx/dispensations", "same-key", map[string]any{"dispensation_id": "d-1"}); code != 200 {
			t.Fatalf("dispensation %d: %d", i, code)
		}
	}
	st := em.Stats(ERX)
	if st.Registered != 1 || st.Resent != 2 || st.ByKey["same-key"] != 1 {
		t.Fatalf("stats %+v: a re-sent key must be registered once", st)
	}
}

// TestCallbacksReuseConnections: callbacks that overlap are sent over
// connections kept open, not a new connection each, as a busy gateway
// would otherwise spend its time accepting and closing them; and a burst
// of more callbacks than callbackConns waits for a connection instead of
// dialing one for each.
func TestCallbacksReuseConnections(t *testing.T) {
	for _, tc := range []struct {
		name             string
		rounds, perRound int
		maxConns         int
	}{
		{"rounds that overlap", 4, 32, 2 * 32},
		{"a burst beyond the bound", 2, 2 * callbackConns, callbackConns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			dialed, got := 0, 0
			cb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // so that a round's callbacks overlap
				mu.Lock()
				got++
				mu.Unlock()
			}))
			cb.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					dialed++
					mu.Unlock()
				}
			}
			cb.Start()
			t.Cleanup(cb.Close)
			_, srv := start(t, cb.URL)
			for round := range tc.rounds {
				var wg sync.WaitGroup
				for i := range tc.perRound {
					wg.Go(func() {
						uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", round*tc.perRound+i)
						if code, a, _ := post(t, srv.URL+"/remd/registerDocument", "ce-"+uid, doc(uid, "11223344595")); code != 200 {
							t.Errorf("document %s: %d %+v", uid, code, a)
						}
					})
				}
				wg.Wait()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					mu.Lock()
					n := got
					mu.Unlock()
					if n >= (round+1)*tc.perRound {
						break
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if got != tc.rounds*tc.perRound {
				t.Fatalf("%d callbacks arrived, want %d", got, tc.rounds*tc.perRound)
			}
			if dialed > tc.maxConns {
				t.Errorf("%d callbacks opened %d connections; want at most %d", got, dialed, tc.maxConns)
			}
			t.Logf("%d callbacks over %d connections", got, dialed)
		})
	}
}
