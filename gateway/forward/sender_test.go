package forward

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

func TestBackoffCapsRetryAfterAndJitters(t *testing.T) {
	s := &sender{policy: RetryPolicy{BackoffMin: 200 * time.Millisecond, BackoffMax: 5 * time.Second, RetryAfterMax: 2 * time.Minute}}
	reply := func(status int, retryAfter string) answer { return answer{status: status, retryAfter: retryAfter} }
	for _, tc := range []struct {
		name     string
		resp     answer
		attempt  int
		low, top time.Duration
	}{
		{"Retry-After honoured", reply(429, "7"), 0, 7 * time.Second, 7 * time.Second},
		{"a day is capped", reply(429, "86400"), 0, 2 * time.Minute, 2 * time.Minute},
		{"an HTTP date", reply(503, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat)), 0, 28 * time.Second, 30 * time.Second},
		{"Retry-After on a 500 is not the registry's advice", reply(500, "60"), 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{"first backoff", reply(0, ""), 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{"doubles", reply(0, ""), 3, 800 * time.Millisecond, 1600 * time.Millisecond},
		{"capped", reply(0, ""), 12, 2500 * time.Millisecond, 5 * time.Second},
		{"huge attempt numbers do not overflow", reply(0, ""), 200, 2500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				d := s.inPlace(tc.attempt, tc.resp.advice(time.Now()))
				if d < tc.low || d > tc.top {
					t.Fatalf("backoff = %s, want within [%s, %s]", d, tc.low, tc.top)
				}
			}
		})
	}
}

// TestCallHeadersAreSent: a call's own headers reach the registry (an XML
// body with its SOAPAction), a body without a Content-Type goes as JSON,
// and a header the HTTP client would refuse is the call's fault.
func TestCallHeadersAreSent(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	cfg := config.DefaultDestination()
	cfg.URL, cfg.Attempts = srv.URL, 1
	s, err := newSender("test", cfg, statusOnly{}, NewMetrics(nil), nil, testLog())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name              string
		call              Call
		contentType, soap string
	}{
		{"JSON by default", Call{Method: http.MethodPost, Path: "/x", Body: []byte(`{}`)}, "application/json; charset=utf-8", ""},
		{"SOAP", Call{Method: http.MethodPost, Path: "/x", Body: []byte(`<Envelope/>`),
			Header: map[string]string{"Content-Type": "text/xml; charset=utf-8", "SOAPAction": `"urn:register"`}}, "text/xml; charset=utf-8", `"urn:register"`},
		{"no body, no type", Call{Method: http.MethodGet, Path: "/x"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sendable(tc.call); err != nil {
				t.Fatal(err)
			}
			if out, _ := s.send(context.Background(), tc.call, false, nil); out.Result != Registered {
				t.Fatalf("result %s", out.Result)
			}
			h := <-got
			if h.Get("Content-Type") != tc.contentType || h.Get("SOAPAction") != tc.soap {
				t.Fatalf("Content-Type %q, SOAPAction %q; want %q, %q", h.Get("Content-Type"), h.Get("SOAPAction"), tc.contentType, tc.soap)
			}
		})
	}
	for _, h := range []map[string]string{{"SOAPAction": "a\r\nX-Evil: 1"}, {"Bad Name": "v"}, {"": "v"}} {
		if err := sendable(Call{Method: http.MethodPost, Path: "/x", Header: h}); err == nil {
			t.Errorf("header %q passed as sendable", h)
		}
	}
}

// TestAttemptsInPlace: one call is tried again in place on a 429 or a 5xx
// other than 501, up to the policy's attempts, never on other answers;
// the caller hears of each failed attempt worth another.
func TestAttemptsInPlace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answers   []int
		wantCalls int
		wantFails int
		want      Result
	}{
		{"a 503 then success", []int{503, 200}, 2, 1, Registered},
		{"a 429 then success", []int{429, 200}, 2, 1, Registered},
		{"5xx until the attempts run out", []int{503, 502, 500, 200}, 3, 3, Park},
		{"501 is not tried again", []int{501, 200}, 1, 0, Park},
		{"a 4xx is not tried again", []int{400, 200}, 1, 0, Park},
		{"success at once", []int{200}, 1, 0, Registered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				w.WriteHeader(tc.answers[min(calls, len(tc.answers))-1])
			}))
			defer srv.Close()
			cfg := config.DefaultDestination()
			cfg.URL, cfg.Attempts = srv.URL, 3
			cfg.BackoffMin, cfg.BackoffMax = config.Duration(time.Millisecond), config.Duration(2*time.Millisecond)
			cfg.BreakerFailures = 100
			s, err := newSender("test", cfg, statusOnly{}, NewMetrics(nil), nil, testLog())
			if err != nil {
				t.Fatal(err)
			}
			fails := 0
			out, refused := s.send(context.Background(), Call{Method: http.MethodPost, Path: "/x", Body: []byte(`{}`)}, false,
				func(Outcome) { fails++ })
			if out.Result != tc.want || refused || calls != tc.wantCalls || fails != tc.wantFails {
				t.Fatalf("result %s (refused %v) after %d calls, %d failures told; want %s after %d, %d",
					out.Result, refused, calls, fails, tc.want, tc.wantCalls, tc.wantFails)
			}
		})
	}
}
