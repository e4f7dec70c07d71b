package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/internal/stack"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestLoadgenAgainstDev sends a mixed stream to `egisz-gateway dev` and
// reads every answer back: each event gets exactly the outcome the
// generator says it must, and each accepted one is registered.
func TestLoadgenAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway")
	}
	broker := stack.StartDev(t, "../egisz-gateway")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"--brokers", broker, "--events", "3000", "--rate", "1500", "--json", "--seed", "11"}, &out, &errb)
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", code, err, out.String(), errb.String())
	}
	if code != 0 || !rep.OutcomesOK || rep.Sent < 3000 {
		t.Fatalf("exit %d: %+v\n%s", code, rep, errb.String())
	}
	for _, k := range []string{"accepted", "duplicate", "update", "rejected:SNILS_CHECKSUM", "conflict:DEDUP_CONFLICT"} {
		if rep.Outcomes[k] == 0 {
			t.Errorf("no %s among %v", k, rep.Outcomes)
		}
	}
	for _, k := range []string{"iemk:registered", "remd:registered", "erx:registered"} {
		if rep.Registries[k] == 0 {
			t.Errorf("no %s among %v", k, rep.Registries)
		}
	}
	if rep.Normalize.N < 3000 || rep.Normalize.P99 <= 0 {
		t.Errorf("latency %+v", rep.Normalize)
	}

	// Bad usage and no cluster are exit 2 with the reason.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mix", "dupes=1"}, `mix "dupes=1"`},
		{[]string{"--brokers", testtool.FreeAddr(t)}, "cannot reach Kafka"},
	} {
		var o, e bytes.Buffer
		if code := run(ctx, tc.args, &o, &e); code != 2 || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, e.String())
		}
	}
}
