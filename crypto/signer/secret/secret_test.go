package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	const pin = "12345678-pin"
	v := New(pin)
	type holder struct {
		PIN Value
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("signing", "pin", v, "holder", holder{v})
	js, err := json.Marshal(holder{v})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%s":   fmt.Sprintf("%s", v),
		"%v":   fmt.Sprintf("%v", v),
		"%+v":  fmt.Sprintf("%+v", holder{v}),
		"%#v":  fmt.Sprintf("%#v", holder{v}),
		"%q":   fmt.Sprintf("%q", v),
		"%x":   fmt.Sprintf("%x", v),
		"json": string(js),
		"slog": logBuf.String(),
		"err":  fmt.Errorf("wrapped: %v", v).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, pin) || strings.Contains(out, fmt.Sprintf("%x", pin)) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, mask) {
			t.Errorf("%s does not show the mask: %s", name, out)
		}
	}
	if v.Reveal() != pin {
		t.Errorf("Reveal() = %q", v.Reveal())
	}
}

func TestSourceLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("SECRET_TEST_SET", "from-env")
	t.Setenv("SECRET_TEST_EMPTY", "")
	tests := []struct {
		name    string
		src     Source
		want    string
		wantErr error
		errText string
	}{
		{"file with newline", Source{File: write("a", "p@ss\n")}, "p@ss", nil, ""},
		{"file with CRLF", Source{File: write("b", "p@ss\r\n")}, "p@ss", nil, ""},
		{"file keeps inner spaces", Source{File: write("c", " a b ")}, " a b ", nil, ""},
		{"empty file", Source{File: write("d", "\n")}, "", ErrEmpty, ""},
		{"missing file", Source{File: filepath.Join(dir, "none")}, "", os.ErrNotExist, ""},
		{"env", Source{Env: "SECRET_TEST_SET"}, "from-env", nil, ""},
		{"env empty", Source{Env: "SECRET_TEST_EMPTY"}, "", ErrEmpty, ""},
		{"env unset", Source{Env: "SECRET_TEST_UNSET_XYZ"}, "", nil, "not set"},
		{"both", Source{File: "x", Env: "y"}, "", nil, "both"},
		{"none", Source{}, "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.src.Load()
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got %v, want an error saying %q", err, tc.errText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if v.Reveal() != tc.want {
					t.Errorf("got %q, want %q", v.Reveal(), tc.want)
				}
			}
		})
	}
}
