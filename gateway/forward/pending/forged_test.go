package pending

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// A callback from anyone but the registry (no client certificate, or one
// of another CA) is refused before its body is read, and a message the
// registry's adapter does not authenticate (unsigned, a signature that
// does not verify, a signer not trusted, expired, replayed; here it names
// its document by the MessageID it answers) once read, whenever it comes:
// before its document exists, while the document is pending, or racing
// the registry's real answer. It settles nothing, is kept nowhere (not as
// an orphan to settle the document later), and is counted; the log has
// one line for the lot, not one per request. The registry's own callback
// still settles the document.
func TestForgedCallbacksNeitherSettleNorStay(t *testing.T) {
	type forgery struct {
		name   string
		caller callbackCaller
		auth   seam.AuthFailure // the adapter's verdict on the message; empty: it never gets that far
		status int
		reason string
		logs   string // the log line of the refusals
	}
	const tlsLine, msgLine = "refused requests without a trusted client certificate", "refused messages not signed by a trusted registry certificate"
	forgers := []forgery{
		{"no client certificate", callerNoCert, "", http.StatusUnauthorized, refusedNoCertificate, tlsLine},
		{"a certificate of another CA", callerOtherCA, "", http.StatusForbidden, refusedUntrusted, tlsLine},
	}
	for _, f := range seam.AuthFailures {
		forgers = append(forgers, forgery{"a message " + string(f), callerRegistry, f, http.StatusForbidden, string(f), msgLine})
	}
	for _, forger := range forgers {
		for _, when := range []string{"before the document exists", "while it is pending", "racing the registry's answer"} {
			t.Run(forger.name+", "+when, func(t *testing.T) {
				c, ctx, cat := pendingCluster(t)
				var logs testtool.Buffer
				p, stage := newTestPending(t, c, cat,
					config.Callback{Wait: config.Duration(100 * time.Millisecond), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
					slog.New(slog.NewTextHandler(&logs, nil)))
				run(t, ctx, p)
				own(t, ctx, p, stage, 0)
				var (
					auditMu sync.Mutex
					audited []string
				)
				url, client := serveAuditedCallback(t, p, func(_ context.Context, source, reason string, count int) error {
					auditMu.Lock()
					defer auditMu.Unlock()
					audited = append(audited, fmt.Sprintf("%s %s %d", source, reason, count))
					return nil
				})
				post := func(who callbackCaller, auth seam.AuthFailure, status, emdrID string) int {
					body := fmt.Sprintf(`{"request_id":"d-1","status":%q,"emdr_id":%q}`, status, emdrID)
					if auth != "" {
						body = fmt.Sprintf(`{"auth":%q,"relates_to":%q,"status":%q,"emdr_id":%q}`, auth, seam.MessageID("d-1", 0), status, emdrID)
					}
					resp, err := client(who).Post(url, "application/json", strings.NewReader(body))
					if err != nil {
						t.Errorf("post: %v", err)
						return 0
					}
					answer, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					// A message refused after it was read is answered in
					// the registry's protocol (the adapter's Fault).
					if auth != "" && !bytes.HasPrefix(answer, []byte("fault: ")) {
						t.Errorf("refused message answered %q, want the adapter's fault", answer)
					}
					return resp.StatusCode
				}
				forge := func(n int) {
					for range n {
						if code := post(forger.caller, forger.auth, "error", "forged"); code != forger.status {
							t.Errorf("forged callback answered %d, want %d", code, forger.status)
						}
					}
				}
				becomePending := func() {
					out := &kgo.Record{Topic: p.cfg.Outbound, Partition: 0, Key: []byte("patient"), Value: []byte("{}"),
						Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("d-1")}}}
					e := Entry{State: StatePending, Partition: 0, SentAt: time.Now(), Record: Store(out)}
					if err := p.cfg.Writer.Write(ctx, []*kgo.Record{p.entryRecord("d-1", &e)}); err != nil {
						t.Fatal(err)
					}
					for e, ok := p.table.Get("d-1"); !ok || e.State != StatePending; e, ok = p.table.Get("d-1") {
						if ctx.Err() != nil {
							t.Fatal("the document never became pending")
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				forged := 0
				switch when {
				case "before the document exists":
					forge(3)
					forged += 3
					becomePending()
					time.Sleep(700 * time.Millisecond) // past a round of settling orphans
				case "while it is pending":
					becomePending()
					forge(3)
					forged += 3
				case "racing the registry's answer":
					becomePending()
					var wg sync.WaitGroup
					for range 4 {
						wg.Go(func() { forge(5) })
					}
					forged += 20
					wg.Go(func() {
						if code := post(callerRegistry, "", "success", "16.62.26.11.000000007"); code != http.StatusOK {
							t.Errorf("the registry's callback answered %d", code)
						}
					})
					wg.Wait()
				}
				for _, k := range []string{"d-1", seam.MessageID("d-1", 0)} {
					if _, ok := p.table.Get(OrphanKey(k)); ok {
						t.Errorf("a forged callback was kept as an orphan of %s", k)
					}
				}
				if n, b := p.orphans.Use(); n != 0 || b != 0 {
					t.Errorf("orphans hold %d callbacks, %d bytes; want none", n, b)
				}
				e, _ := p.table.Get("d-1")
				if when == "racing the registry's answer" {
					if e == nil || e.State != StateRegistered || e.RegistryID != "16.62.26.11.000000007" {
						t.Errorf("after the race the document is %+v, want registered by the registry's callback", e)
					}
				} else {
					if e == nil || e.State != StatePending {
						t.Errorf("the document is %+v, want still pending", e)
					}
					if code := post(callerRegistry, "", "success", "16.62.26.11.000000008"); code != http.StatusOK {
						t.Fatalf("the registry's callback answered %d", code)
					}
					if e, _ = p.table.Get("d-1"); e == nil || e.State != StateRegistered || e.RegistryID != "16.62.26.11.000000008" {
						t.Errorf("the registry's callback left the document %+v, want registered", e)
					}
				}
				if got := testutil.ToFloat64(p.m.refused.WithLabelValues(forger.reason)); got != float64(forged) {
					t.Errorf("refused{reason=%s} = %v, want %d", forger.reason, got, forged)
				}
				if got := testutil.ToFloat64(p.m.callbacks.WithLabelValues("registered")); got != 1 {
					t.Errorf("%v callbacks settled the document, want the registry's 1", got)
				}
				stage.mu.Lock()
				if len(stage.settled) != 1 || stage.settled[0].Action != Register {
					t.Errorf("the stage was given %+v to write, want the registry's one registration", stage.settled)
				}
				stage.mu.Unlock()
				if n := strings.Count(logs.String(), forger.logs); n != 1 {
					t.Errorf("%d log lines about the refusals, want 1 (at most one a source a minute):\n%s", n, logs.String())
				}
				if !strings.Contains(logs.String(), "refused=1 ") {
					t.Errorf("the first refusal's log line does not count it:\n%s", logs.String())
				}
				auditMu.Lock()
				if want := "127.0.0.1 " + forger.reason + " 1"; len(audited) != 1 || audited[0] != want {
					t.Errorf("audit records %q, want one: %q (at most one a source a minute, with its count)", audited, want)
				}
				auditMu.Unlock()
			})
		}
	}
}

// The registry's own callbacks are bounded too: a body over 64 KiB is
// refused (413), and callbacks for unknown documents are kept only up to
// the orphans' bounds; past them they are answered 503, so that РЭМД
// sends them again, and nothing is kept. The gauges show what is kept.
func TestAuthenticatedCallbacksAreBounded(t *testing.T) {
	c, ctx, cat := pendingCluster(t)
	p, stage := newTestPending(t, c, cat,
		config.Callback{Wait: config.Duration(50 * time.Millisecond), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour),
			MaxOrphans: 3, MaxOrphanBytes: 1 << 20, MaxOrphansPerSource: 2, MaxOrphanBytesPerSource: 1 << 20},
		slog.New(slog.DiscardHandler))
	run(t, ctx, p)
	url, client := serveCallback(t, p)
	registry := client(callerRegistry)
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"a body over 64 KiB", `{"request_id":"big","status":"success","emdr_id":"` + strings.Repeat("x", maxInboundBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"the first unknown document", `{"request_id":"u-1","status":"success","emdr_id":"1"}`, http.StatusOK},
		{"the second", `{"request_id":"u-2","status":"success","emdr_id":"2"}`, http.StatusOK},
		{"the first again", `{"request_id":"u-1","status":"success","emdr_id":"1"}`, http.StatusOK},
		{"a third, over the source's bound", `{"message_id":"urn:uuid:m-3","request_id":"u-3","status":"success","emdr_id":"3"}`, http.StatusServiceUnavailable},
	} {
		resp, err := registry.Post(url, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: answered %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// The refused one was not acted on: the adapter is told, so that
	// РЭМД's re-send of the same signed message is not a replay.
	stage.mu.Lock()
	if !slices.Equal(stage.released, []string{"urn:uuid:m-3"}) {
		t.Errorf("released %v, want the refused message alone", stage.released)
	}
	stage.mu.Unlock()
	for id, kept := range map[string]bool{"u-1": true, "u-2": true, "u-3": false, "big": false} {
		if _, ok := p.table.Get(OrphanKey(id)); ok != kept {
			t.Errorf("%s kept as an orphan: %v, want %v", id, ok, kept)
		}
	}
	p.Measure()
	if n := testutil.ToFloat64(p.m.orphans); n != 2 {
		t.Errorf("egisz_remd_callback_orphans = %v, want 2", n)
	}
	if b := testutil.ToFloat64(p.m.orphanBytes); b <= 0 || b > 2*1024 {
		t.Errorf("egisz_remd_callback_orphan_bytes = %v, want the two small orphans' size", b)
	}
	for result, want := range map[string]float64{"too_large": 1, "orphan": 3, "orphan_refused": 1} {
		if got := testutil.ToFloat64(p.m.callbacks.WithLabelValues(result)); got != want {
			t.Errorf("callbacks{result=%s} = %v, want %v", result, got, want)
		}
	}
}
