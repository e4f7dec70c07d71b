package main

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
)

func TestLoadTrustRoots(t *testing.T) {
	ctx := context.Background()
	var pems [][]byte
	for range 2 {
		pki, err := semdtest.NewPKI(ctx, signer.GOST2012_256, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.CA.Certificate.Raw}))
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := write("one/a.pem", pems[0])
	write("two/a.pem", pems[0])
	write("two/b.pem", pems[1])
	write("two/notes.txt", []byte("not read: only *.pem"))
	bundle := write("bundle.pem", append(append([]byte{}, pems[0]...), pems[1]...))
	garbage := write("bad/garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		paths   []string
		want    int
		wantErr error // nil: any error when want is 0
	}{
		{"one file", []string{one}, 1, nil},
		{"a bundle", []string{bundle}, 2, nil},
		{"a directory of *.pem", []string{filepath.Join(dir, "two")}, 2, nil},
		{"a file and a directory", []string{one, filepath.Join(dir, "two")}, 3, nil},
		{"an empty directory", []string{empty}, 0, errNoTrustRoots},
		{"nothing configured", nil, 0, errNoTrustRoots},
		{"a missing file", []string{filepath.Join(dir, "missing.pem")}, 0, os.ErrNotExist},
		{"not a certificate", []string{garbage}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roots, err := loadTrustRoots(tc.paths)
			if tc.want > 0 {
				if err != nil || len(roots) != tc.want {
					t.Fatalf("got %d roots, %v; want %d", len(roots), err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %d roots and no error", len(roots))
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}
