package devpki

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

// The signing PKI works as dev wires it: the gateway's key, loaded from
// its files as the configuration names them, signs a SOAP message the
// emulator's Trust accepts, as does the emulator's own key; a key of
// another CA is refused.
func TestSigningPKI(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s, err := NewSigning(ctx, t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	configured, err := signerconfig.New(ctx, signerconfig.Config{Kind: signerconfig.KindLocal,
		Local: signerconfig.Local{KeyFile: s.GatewayKeyFile, CertFile: s.GatewayCertFile}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := local.GenerateDevPKI(ctx, signer.GOST2012_256, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		signer  signer.Signer
		trusted bool
	}{
		{"the gateway's key, as configured", configured, true},
		{"the emulator's key", s.Registry, true},
		{"a key of another CA", other.Leaf, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := wssec.Sign(ctx, tc.signer, wssec.Envelope{Version: wssec.SOAP12,
				Addressing: wssec.Addressing{Action: "registerDocument", MessageID: "urn:uuid:00000000-0000-4000-8000-000000000001", To: "http://ips.test/remd"},
				Body:       []byte(`<r:registerDocumentRequest xmlns:r="urn:test"/>`)}, wssec.SignOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			_, err = wssec.Verify(env, wssec.VerifyOptions{TrustCertificate: s.Trust, Now: now})
			if tc.trusted && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.trusted && !errors.Is(err, wssec.ErrUntrusted) {
				t.Fatalf("Verify = %v, want ErrUntrusted", err)
			}
		})
	}
	if configured.Algorithm() != signer.GOST2012_256 {
		t.Errorf("the gateway signs with %v, want ГОСТ 2012-256", configured.Algorithm())
	}
}
