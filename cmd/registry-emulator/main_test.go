package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
)

func TestReadFaults(t *testing.T) {
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"valid", `{"remd":{"rate_503":0.3,"latency_min":5000000,"latency_max":5000000},"erx":{"down":true}}`, ""},
		{"unknown registry", `{"frmr":{"down":true}}`, `unknown registry "frmr"`},
		{"unknown field", `{"remd":{"rate_504":0.3}}`, `unknown field "rate_504"`},
		{"not JSON", `remd: down`, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "faults.json")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := readFaults(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("readFaults = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f["remd"].Rate503 != 0.3 || f["remd"].LatencyMin != 5*time.Millisecond || !f["erx"].Down {
				t.Fatalf("faults %+v", f)
			}
		})
	}
}

// TestREMDSecurity: --remd-pki issues a CA, РЭМД's key and a gateway key
// that РЭМД trusts; the same files given as --signer-key/--signer-cert/
// --trust make the same trust; a key of another CA is refused; the flags
// that exclude each other or go together are checked.
func TestREMDSecurity(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "remd-pki")
	issued, err := remdSecurity(ctx, dir, "", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gateway, err := local.LoadPEMFiles(filepath.Join(dir, "gateway.key.pem"), filepath.Join(dir, "gateway.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := remdSecurity(ctx, "", filepath.Join(dir, "signer.key.pem"), filepath.Join(dir, "signer.pem"), filepath.Join(dir, "ca.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := remdSecurity(ctx, filepath.Join(t.TempDir(), "other"), "", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, sec := range map[string]security{"issued": issued, "loaded": loaded} {
		if sec.signer == nil || sec.trust == nil {
			t.Fatalf("%s: no signer or trust", name)
		}
		if err := sec.trust(gateway.Certificate()); err != nil {
			t.Errorf("%s: the issued gateway key is not trusted: %v", name, err)
		}
		if err := sec.trust(sec.signer.Certificate()); err != nil {
			t.Errorf("%s: РЭМД's own key is not trusted by its CA: %v", name, err)
		}
		if err := sec.trust(other.signer.Certificate()); err == nil {
			t.Errorf("%s: a key of another CA is trusted", name)
		}
	}
	if !loaded.signer.Certificate().Equal(issued.signer.Certificate()) {
		t.Error("the loaded signer is not the issued one")
	}
	if none, err := remdSecurity(ctx, "", "", "", "", time.Now()); err != nil || none.signer != nil || none.trust != nil {
		t.Errorf("no flags: %+v %v, want nothing", none, err)
	}
	for _, tc := range []struct {
		name                  string
		pki, key, cert, trust string
		wantErr               string
	}{
		{"pki and files", dir, "k", "", "", "exclude each other"},
		{"key without the rest", "", filepath.Join(dir, "signer.key.pem"), "", "", "go together"},
		{"missing trust file", "", filepath.Join(dir, "signer.key.pem"), filepath.Join(dir, "signer.pem"), filepath.Join(dir, "nope.pem"), "--trust"},
	} {
		if _, err := remdSecurity(ctx, tc.pki, tc.key, tc.cert, tc.trust, time.Now()); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}
