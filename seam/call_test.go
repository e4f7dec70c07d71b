package seam

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, v string
		want    time.Duration
	}{
		{"none", "", 0},
		{"delay-seconds", "7", 7 * time.Second},
		{"zero seconds", "0", 0},
		{"an HTTP-date ahead", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"an RFC 850 date ahead", now.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"an asctime date ahead", now.Add(2 * time.Minute).Format(time.ANSIC), 2 * time.Minute},
		{"a date past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"a sign is not delay-seconds", "+5", 0},
		{"a negative number", "-5", 0},
		{"a fraction", "1.5", 0},
		{"spaces inside", "1 2", 0},
		{"garbage", "soon", 0},
		{"too large to count", "99999999999999999999", time.Duration(math.MaxInt64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.v, now); got != tc.want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
			}
		})
	}
}
