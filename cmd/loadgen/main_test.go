package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestLoadgenAgainstDev sends a mixed stream to `egisz-gateway dev` and
// reads every answer back: each event gets exactly the outcome the
// generator says it must, and each accepted one is registered.
func TestLoadgenAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway")
	}
	bin := filepath.Join(t.TempDir(), "egisz-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "../egisz-gateway").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	broker, httpAddr := testtool.FreeAddr(t), testtool.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dev := exec.CommandContext(ctx, bin, "dev", "--broker", broker, "--http", httpAddr, "--emulator", testtool.FreeAddr(t))
	var log bytes.Buffer
	dev.Stderr = &log
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = dev.Process.Signal(os.Interrupt)
		_ = dev.Wait()
	}()
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("dev not ready:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
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
