package forward

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// callbackRegistry reads a callback as {"request_id": ...}.
type callbackRegistry struct{ asyncRegistry }

func (callbackRegistry) ParseCallback(body []byte) (CallbackResult, error) {
	var cb struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &cb); err != nil || cb.RequestID == "" {
		return CallbackResult{}, errors.New("no request_id")
	}
	return CallbackResult{RequestID: cb.RequestID, Registered: true, RegistryID: "16.62.26.11.000000001"}, nil
}

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
		{name: "a caller gone before the wait ends", patience: 100 * time.Millisecond, wait: time.Second, want: "abandoned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx, cat := pendingCluster(t)
			var logs testtool.Buffer
			s, err := New(Config{
				Registry: topics.RegistryREMD, Catalog: cat, Prefix: c.Prefix, InstanceID: "a",
				Dest:       config.Destination{Concurrency: 1},
				Callback:   config.Callback{Wait: config.Duration(tc.wait), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
				ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, Log: slog.New(slog.NewTextHandler(&logs, nil)),
			}, callbackRegistry{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.eos.Close()
			runCtx, stop := context.WithCancel(ctx)
			stopped := make(chan error, 1)
			go func() { stopped <- s.pending.Run(runCtx) }()
			defer func() { stop(); <-stopped }()
			for s.pending.table.Ready() != nil {
				if ctx.Err() != nil {
					t.Fatal("the pending table never loaded")
				}
				time.Sleep(10 * time.Millisecond)
			}

			url, client := serveCallback(t, s.pending)
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
			counted := func() float64 { return testutil.ToFloat64(s.m.callbacks.WithLabelValues(tc.want)) }
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
