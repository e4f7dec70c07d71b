package stack

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
)

// A gateway of the stack forwarding to the emulator gets РЭМД's results on
// its mTLS callback endpoint: every document the emulator registered was
// called back, and every event settled.
func TestStackSettlesREMDThroughTheMTLSCallback(t *testing.T) {
	kc := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := Build(ctx, "../../cmd/egisz-gateway", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	emu, err := StartEmulator()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	if _, err := StartGateway(ctx, GatewayConfig{Bin: bin, Brokers: kc.Brokers, Prefix: kc.Prefix, Instance: "x", RegistryURL: emu.URL}, time.Minute); err == nil {
		t.Fatal("a gateway forwarding to the emulator started without the callback's PKI")
	}
	g, err := StartGateway(ctx, GatewayConfig{Bin: bin, Brokers: kc.Brokers, Prefix: kc.Prefix, Instance: "stack", RegistryURL: emu.URL, CallbackPKI: emu.PKI, Log: os.Stderr}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Kill()
	tr, err := StartTraffic(ctx, kc.Brokers, loadgen.Config{Prefix: kc.Prefix, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for range 300 {
		tr.Send(ctx, tr.Gen.Next())
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Settle(ctx, 2*time.Minute, slog.Default()); err != nil {
		t.Fatal(err)
	}
	// The emulator counts a callback once the gateway has answered it, and
	// the gateway answers after it has written the status the tracker
	// reads: the last few are counted a moment after the traffic settles.
	st := emu.Stats(emulator.REMD)
	for deadline := time.Now().Add(30 * time.Second); st.Callbacks < st.Registered && time.Now().Before(deadline); st = emu.Stats(emulator.REMD) {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("РЭМД: %d registered, %d callbacks delivered; report %+v", st.Registered, st.Callbacks, tr.Track.Report().Outcomes)
	if st.Registered == 0 || st.Callbacks != st.Registered {
		t.Fatalf("РЭМД delivered %d callbacks for %d registered documents", st.Callbacks, st.Registered)
	}
}
