package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
