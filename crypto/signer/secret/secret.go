// Package secret holds passwords, PINs and tokens so that they cannot be
// printed by accident: a Value formats, marshals and logs as a fixed mask,
// and its text comes out only through Reveal. Values are read from a file
// or an environment variable, never from a plain configuration value.
package secret

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// mask is what a Value prints as.
const mask = "[redacted]"

// ErrEmpty is returned when a secret's source exists but holds nothing.
var ErrEmpty = errors.New("secret is empty")

// Value is a secret string. Its zero value is the empty secret.
type Value struct {
	s string
}

// New wraps s.
func New(s string) Value { return Value{s: s} }

// Reveal returns the secret's text, for the one call that needs it.
func (v Value) Reveal() string { return v.s }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v.s == "" }

// String returns a mask, never the secret.
func (v Value) String() string { return mask }

// GoString returns a mask, never the secret (for %#v).
func (v Value) GoString() string { return mask }

// Format prints a mask for every verb, so that %s, %v, %q and %x cannot
// leak the secret.
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(mask)) }

// LogValue returns a mask for log/slog.
func (v Value) LogValue() slog.Value { return slog.StringValue(mask) }

// MarshalText returns a mask, so that encoding/json and YAML encoders
// never write the secret.
func (v Value) MarshalText() ([]byte, error) { return []byte(mask), nil }

// FromFile reads a secret from a file, dropping one trailing newline (as
// editors and `echo` leave one). The file's content never appears in an
// error; its name does.
func FromFile(path string) (Value, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Value{}, fmt.Errorf("read secret file: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return Value{}, fmt.Errorf("secret file %s: %w", path, ErrEmpty)
	}
	return Value{s: string(b)}, nil
}

// FromEnv reads a secret from an environment variable, which must be set
// and not empty.
func FromEnv(name string) (Value, error) {
	s, ok := os.LookupEnv(name)
	if !ok {
		return Value{}, fmt.Errorf("secret environment variable %s is not set", name)
	}
	if s == "" {
		return Value{}, fmt.Errorf("secret environment variable %s: %w", name, ErrEmpty)
	}
	return Value{s: s}, nil
}

// Source names where a secret comes from: a file or an environment
// variable, exactly one of them. An empty Source is no secret.
type Source struct {
	// File is a path to a file holding the secret.
	File string `yaml:"file,omitempty" json:"file,omitempty"`
	// Env is the name of an environment variable holding the secret.
	Env string `yaml:"env,omitempty" json:"env,omitempty"`
}

// IsZero reports whether the source names nothing.
func (s Source) IsZero() bool { return s.File == "" && s.Env == "" }

// Validate checks the source names at most one place.
func (s Source) Validate() error {
	if s.File != "" && s.Env != "" {
		return errors.New("secret source names both a file and an environment variable")
	}
	return nil
}

// Load reads the secret. An empty source loads the empty secret.
func (s Source) Load() (Value, error) {
	if err := s.Validate(); err != nil {
		return Value{}, err
	}
	switch {
	case s.File != "":
		return FromFile(s.File)
	case s.Env != "":
		return FromEnv(s.Env)
	}
	return Value{}, nil
}
