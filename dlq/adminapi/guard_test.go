package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestGuardThrottlesAndSummarisesFailures: a source is throttled after
// guardLimit failures in a window and free again after it; its failures
// reach the audit log as one record a window with their count; another
// source is counted apart.
func TestGuardThrottlesAndSummarisesFailures(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := newGuard(func() time.Time { return now })
	var audited []int
	for i := 0; i < guardLimit; i++ {
		if g.throttled("10.0.0.1") {
			t.Fatalf("throttled after %d failures, want after %d", i, guardLimit)
		}
		if n := g.fail("10.0.0.1"); n > 0 {
			audited = append(audited, n)
		}
		now = now.Add(time.Second)
	}
	if !g.throttled("10.0.0.1") {
		t.Fatalf("not throttled after %d failures in a window", guardLimit)
	}
	if g.throttled("10.0.0.2") {
		t.Error("another source is throttled too")
	}
	if fmt.Sprint(audited) != "[1]" {
		t.Errorf("audited %v within the first window, want one record of the first failure [1]", audited)
	}
	now = now.Add(guardWindow)
	if g.throttled("10.0.0.1") {
		t.Error("still throttled a window later")
	}
	if n := g.fail("10.0.0.1"); n != guardLimit {
		t.Errorf("the first failure a window later audits %d, want the %d not yet audited", n, guardLimit)
	}
}

// TestGuardForgetsQuietSourcesFirst: the table of sources stays bounded,
// and a source still within its window survives a sweep.
func TestGuardForgetsQuietSourcesFirst(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := newGuard(func() time.Time { return now })
	for i := 0; i < guardLimit; i++ {
		g.fail("busy")
	}
	now = now.Add(guardWindow / 2)
	for i := 0; i < guardSources+100; i++ {
		g.fail(fmt.Sprintf("10.1.%d.%d", i/256, i%256))
		if i == guardSources/2 {
			now = now.Add(guardWindow)
			for j := 0; j < guardLimit; j++ {
				g.fail("busy")
			}
		}
	}
	if len(g.sources) > guardSources {
		t.Errorf("%d sources remembered, want at most %d", len(g.sources), guardSources)
	}
	if !g.throttled("busy") {
		t.Error("a source within its window was forgotten")
	}
}

func TestStrictJSON(t *testing.T) {
	for _, tc := range []struct {
		name, body, err string
	}{
		{"good", `{"filter":{"reasons":["A"]},"dry_run":true,"reason":"x"}`, ""},
		{"same keys in sibling objects", `{"filter":{"ids":[]},"reason":"x","dry_run":false}`, ""},
		{"duplicate key", `{"dry_run":true,"dry_run":false}`, `key "dry_run" appears twice`},
		{"case variant", `{"dry_run":true,"DRY_RUN":false}`, `key "DRY_RUN" appears twice`},
		{"nested duplicate", `{"filter":{"reasons":["A"],"Reasons":["B"]}}`, `key "Reasons" appears twice`},
		{"trailing data", `{"dry_run":true} {"dry_run":false}`, "data after the JSON value"},
		{"trailing garbage", `{"dry_run":true}x`, "invalid character"},
		{"unknown field", `{"dry":true}`, "unknown field"},
		{"not JSON", `{dry_run`, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b replayBody
			err := strictJSON([]byte(tc.body), &b)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}

// TestRefusalsBeforeTheBody: over the API on an embedded broker, a
// viewer's replay is a 403 in the audit log whatever its body holds; a
// lower-case bearer scheme works; unauthenticated calls are throttled
// after guardLimit, counted in the metric, and audited as one record with
// their count; every answer says no-store.
func TestRefusalsBeforeTheBody(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	if _, err := topics.Ensure(ctx, kadm.NewClient(kc.Client(t)), topics.Default().WithPrefix(kc.Prefix), -1); err != nil {
		t.Fatal(err)
	}
	svc, err := dlq.New(dlq.Config{KafkaOpt: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Prefix: kc.Prefix, Catalog: topics.Default()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	users, err := LoadUsers(writeUsers(t, "vera viewer token:v1\nanna auditor token:a1\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	api := New(svc, users, testLog(), reg)
	srv := httptest.NewServer(api)
	defer srv.Close()

	call := func(method, path, auth, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+Base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"viewer's malformed replay", http.MethodPost, "/dlq/replay", "Bearer v1", "{not json", http.StatusForbidden},
		{"viewer's purge", http.MethodPost, "/dlq/purge", "Bearer v1", `{"reason":"x"}`, http.StatusForbidden},
		{"lower-case scheme", http.MethodGet, "/audit", "bearer a1", "", http.StatusOK},
		{"upper-case scheme", http.MethodGet, "/audit", "BEARER a1", "", http.StatusOK},
		{"auditor's duplicate keys", http.MethodPost, "/dlq/list", "Bearer a1", `{"page_size":1,"PAGE_SIZE":2}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(tc.method, tc.path, tc.auth, tc.body)
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}

	const calls = 3 * guardLimit
	codes := map[int]int{}
	for i := 0; i < calls; i++ {
		codes[call(http.MethodGet, "/audit", "Bearer wrong", "").StatusCode]++
	}
	if codes[http.StatusUnauthorized] != guardLimit || codes[http.StatusTooManyRequests] != calls-guardLimit {
		t.Errorf("answers %v, want %d × 401 then %d × 429", codes, guardLimit, calls-guardLimit)
	}
	if got := testutil.ToFloat64(api.authFailures.WithLabelValues("refused")); got != guardLimit {
		t.Errorf("refused counted %v, want %d", got, guardLimit)
	}
	if got := testutil.ToFloat64(api.authFailures.WithLabelValues("throttled")); got != calls-guardLimit {
		t.Errorf("throttled counted %v, want %d", got, calls-guardLimit)
	}

	recs, err := svc.ReadAudit(context.Background(), dlq.Actor{Name: "t", Role: dlq.RoleAuditor}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var viewerDenied, anon []topics.AuditRecord
	for _, r := range recs {
		switch {
		case r.Actor == "vera" && r.Outcome == "denied":
			viewerDenied = append(viewerDenied, r)
		case r.Actor == "unauthenticated":
			anon = append(anon, r)
		}
	}
	if len(viewerDenied) != 2 || viewerDenied[0].Action != "replay" || viewerDenied[1].Action != "purge" {
		t.Errorf("the viewer's refusals in the audit log: %+v, want replay and purge", viewerDenied)
	}
	if len(anon) != 1 || anon[0].Count != 1 {
		t.Errorf("unauthenticated calls in the audit log: %+v, want one record of the first (the rest within a minute wait for the next)", anon)
	}
}
