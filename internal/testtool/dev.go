package testtool

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartDev builds the gateway from its package directory (relative to the
// test's), runs `egisz-gateway dev` on free loopback addresses until the
// test ends, and returns its broker address once /readyz answers 200.
func StartDev(t testing.TB, gatewayPkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "egisz-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, gatewayPkg).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	broker, httpAddr := FreeAddr(t), FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	dev := exec.Command(bin, "dev", "--broker", broker, "--http", httpAddr, "--emulator", FreeAddr(t))
	var log bytes.Buffer
	dev.Stderr = &log
	if err := dev.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = dev.Process.Signal(os.Interrupt)
		_ = dev.Wait()
	})
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return broker
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("dev not ready:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
