package stack

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// StartDev builds the gateway from its package directory (relative to the
// test's), runs `egisz-gateway dev` on free loopback addresses until the
// test ends, and returns its broker address once /readyz answers 200.
func StartDev(t testing.TB, gatewayPkg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := Build(ctx, gatewayPkg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	broker, httpAddr := addrs[0], addrs[1]
	dev := exec.Command(bin, "dev", "--broker", broker, "--http", httpAddr, "--emulator", addrs[2])
	var log bytes.Buffer
	dev.Stderr = &log
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dev.Process.Signal(os.Interrupt)
		_ = dev.Wait()
	})
	for !Ready(ctx, httpAddr) {
		if ctx.Err() != nil {
			t.Fatalf("dev not ready:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return broker
}
