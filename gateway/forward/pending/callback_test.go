package pending

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// A callback for a document the gateway does not know yet (its entry is
// still in the forward stage's transaction, or a rebalance redoes that
// transaction) waits remd_callback.wait for it, then is kept as an orphan
// and answered. The default wait is under a caller's usual timeout: with
// a wait as long as РЭМД's patience, every re-send hung up too, the
// callback was never recorded, and each attempt logged a warning (882 in a
// short SIGKILL run of the reliability suite). A caller that hangs up
// anyway is counted, not warned about: it sends the callback again.
func TestACallbackForAnUnknownDocumentIsAnsweredBeforeTheCallerGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patience time.Duration // the caller's timeout
		wait     time.Duration // remd_callback.wait
		want     string        // the callback's result, as counted
	}{
		{name: "default wait, a caller of 3 s", patience: 3 * time.Second, wait: config.Default().Forward.Callback.Wait.D(), want: "orphan"},
		// The wait is far longer than the caller's patience: a stall of the
		// test process (a loaded CI machine) lets both timers expire
		// together, and a wait of 1 s once answered first. A caller
		// hanging up ends the wait at once, so the test stays short.
		{name: "a caller gone before the wait ends", patience: 100 * time.Millisecond, wait: time.Minute, want: "abandoned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx, cat := pendingCluster(t)
			var logs testtool.Buffer
			p, _ := newTestPending(t, c, cat,
				config.Callback{Wait: config.Duration(tc.wait), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
				slog.New(slog.NewTextHandler(&logs, nil)))
			run(t, ctx, p)

			url, client := serveCallback(t, p)
			cl := client(callerRegistry)
			// The TLS handshake is done first, so that the caller's
			// patience is spent on the callback (a handshake under -race
			// can take longer than the shorter one).
			warm, err := cl.Post(url, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			warm.Body.Close()
			cl.Timeout = tc.patience
			start := time.Now()
			resp, err := cl.Post(url, "application/json", strings.NewReader(`{"request_id":"d-unknown"}`))
			if tc.want == "orphan" {
				if err != nil {
					t.Fatalf("the caller gave up after %v: %v", time.Since(start).Round(time.Millisecond), err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("answered %d, want 200", resp.StatusCode)
				}
			} else if err == nil {
				resp.Body.Close()
				t.Fatalf("answered %d before the caller's timeout of %v", resp.StatusCode, tc.patience)
			}
			counted := func() float64 { return testutil.ToFloat64(p.m.callbacks.WithLabelValues(tc.want)) }
			for counted() != 1 {
				if ctx.Err() != nil {
					t.Fatalf("%s counted %v times, want 1", tc.want, counted())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("warned:\n%s", logs.String())
			}
		})
	}
}
