package stack

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
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
	foreign := false
	for range 300 {
		ev := tr.Gen.Next()
		if ev.Kind == "document" && ev.Expect == loadgen.Accepted && !foreign {
			// The gateway checks documents under the test CA the stack
			// gives it: one signed under another CA is refused.
			tr.Send(ctx, signedElsewhere(t, ev))
			foreign = true
			continue
		}
		tr.Send(ctx, ev)
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Settle(ctx, 2*time.Minute, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if !foreign {
		t.Fatal("no document among the events to sign under another CA")
	}
	// Every event got the outcome and reason the generator promised: the
	// documents signed under the test CA are accepted, the one signed
	// elsewhere is refused for its chain.
	if r := tr.Track.Report(); r.Unexpected > 0 {
		t.Fatalf("%d events got another outcome than promised: %v", r.Unexpected, r.Examples)
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

// signedElsewhere is document event ev signed again, the same file, under
// a CA the gateway does not trust: it must be rejected for its chain.
func signedElsewhere(t *testing.T, ev loadgen.Event) loadgen.Event {
	t.Helper()
	var doc topics.DocumentEvent
	if err := json.Unmarshal(ev.Record.Value, &doc); err != nil {
		t.Fatal(err)
	}
	pki, err := semdtest.NewPKI(context.Background(), signer.GOST2012_256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc.Signers {
		doc.Signers[i].Certificate = nil
	}
	signed, err := pki.Sign(context.Background(), doc, doc.File.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Record.Value, err = json.Marshal(signed.Event); err != nil {
		t.Fatal(err)
	}
	ev.Expect, ev.Code, ev.Registries = loadgen.Rejected, reasons.CertificateUntrusted, nil
	return ev
}
