package forward

import (
	"net/http"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

func TestBackoffCapsRetryAfterAndJitters(t *testing.T) {
	s := &sender{cfg: config.Destination{RetryAfterMax: config.Duration(2 * time.Minute)}}
	answer := func(status int, retryAfter string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}}
		if retryAfter != "" {
			r.Header.Set("Retry-After", retryAfter)
		}
		return r
	}
	minW, maxW := 200*time.Millisecond, 5*time.Second
	for _, tc := range []struct {
		name     string
		resp     *http.Response
		attempt  int
		low, top time.Duration
	}{
		{"Retry-After honoured", answer(429, "7"), 0, 7 * time.Second, 7 * time.Second},
		{"a day is capped", answer(429, "86400"), 0, 2 * time.Minute, 2 * time.Minute},
		{"an HTTP date", answer(503, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat)), 0, 28 * time.Second, 30 * time.Second},
		{"Retry-After on a 500 is not the registry's advice", answer(500, "60"), 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{"first backoff", nil, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{"doubles", nil, 3, 800 * time.Millisecond, 1600 * time.Millisecond},
		{"capped", nil, 12, 2500 * time.Millisecond, 5 * time.Second},
		{"huge attempt numbers do not overflow", nil, 200, 2500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				d := s.backoff(minW, maxW, tc.attempt, tc.resp)
				if d < tc.low || d > tc.top {
					t.Fatalf("backoff = %s, want within [%s, %s]", d, tc.low, tc.top)
				}
			}
		})
	}
}
