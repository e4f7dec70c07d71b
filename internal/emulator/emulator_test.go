package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"
)

func start(t *testing.T, callbackURL string) (*Emulator, *httptest.Server) {
	em := New(callbackURL, nil)
	srv := httptest.NewServer(em.Handler())
	t.Cleanup(func() { srv.Close(); em.Close() })
	return em, srv
}

func postJSON(t *testing.T, url, key string, body any) (int, Answer, http.Header) {
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

func TestChosenRejections(t *testing.T) {
	em, srv := start(t, "")
	em.SetFaults(IEMK, Faults{Reject: map[string]string{"11223344595": "XDSUnknownPatientId"}})
	code, a, _ := postJSON(t, srv.URL+"/iemk/cases", "k2", map[string]any{"action": "add", "patient": map[string]any{"snils": "11223344595"}})
	if code != http.StatusUnprocessableEntity || a.Errors[0].Code != "XDSUnknownPatientId" {
		t.Fatalf("ИЭМК rejection: %d %+v", code, a)
	}
	if st := em.Stats(IEMK); st.Rejected != 1 || st.Codes["XDSUnknownPatientId"] != 1 {
		t.Fatalf("stats %+v: want the rejection counted by its code", st)
	}
	// Another patient goes through.
	if code, a, _ := postJSON(t, srv.URL+"/iemk/cases", "k3", map[string]any{"action": "add", "patient": map[string]any{"snils": "12345678964"}}); code != 200 || a.ID == "" {
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
	if code, _, _ := postJSON(t, srv.URL+"/erx/prescriptions", "a", body); code != 503 {
		t.Errorf("down: %d", code)
	}
	set(ERX, Faults{Rate429: 1, RetryAfter: 7})
	if code, a, h := postJSON(t, srv.URL+"/erx/prescriptions", "a", body); code != 429 || h.Get("Retry-After") != "7" || a.Errors[0].Code != "RATE_LIMIT" {
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
	if code, _, _ := postJSON(t, srv.URL+"/erx/prescriptions", "late", body); code != 200 {
		t.Errorf("latency: %d", code)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("answered before the configured minimum latency")
	}

	set(ERX, Faults{Rate503: 0.3})
	n503 := 0
	for i := 0; i < 1000; i++ {
		if code, _, _ := postJSON(t, srv.URL+"/erx/prescriptions", fmt.Sprintf("r%d", i), body); code == 503 {
			n503++
		}
	}
	if n503 < 240 || n503 > 360 {
		t.Errorf("30%% 503 gave %d of 1000", n503)
	}
	if code, a, _ := postJSON(t, srv.URL+"/erx/prescriptions", "", body); code != 400 && code != 503 {
		t.Errorf("no idempotency key: %d %+v", code, a)
	}
}

func TestResendsAreCountedApart(t *testing.T) {
	em, srv := start(t, "")
	for i := 0; i < 3; i++ {
		if code, _, _ := postJSON(t, srv.URL+"/erx/dispensations", "same-key", map[string]any{"dispensation_id": "d-1"}); code != 200 {
			t.Fatalf("dispensation %d: %d", i, code)
		}
	}
	st := em.Stats(ERX)
	if st.Registered != 1 || st.Resent != 2 || st.ByKey["same-key"] != 1 {
		t.Fatalf("stats %+v: a re-sent key must be registered once", st)
	}
}
