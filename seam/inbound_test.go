package seam

import (
	"errors"
	"fmt"
	"testing"
)

func TestAuthFailureOf(t *testing.T) {
	cause := errors.New("digest mismatch")
	for _, tc := range []struct {
		name   string
		err    error
		want   AuthFailure
		wantOK bool
	}{
		{"an AuthError", &AuthError{Failure: AuthReplayed, Err: cause}, AuthReplayed, true},
		{"a wrapped AuthError", fmt.Errorf("inbox: %w", &AuthError{Failure: AuthUnsigned}), AuthUnsigned, true},
		{"ErrUnauthenticated alone", fmt.Errorf("verify: %w", ErrUnauthenticated), AuthBadSignature, true},
		{"an AuthError without a failure", &AuthError{Err: cause}, AuthBadSignature, true},
		{"a failure out of the set", &AuthError{Failure: "weird", Err: cause}, AuthBadSignature, true},
		{"an adapter's own refusal", fmt.Errorf("x: %w", adapterRefusal{"expired"}), AuthExpired, true},
		{"another error", cause, "", false},
		{"nil", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AuthFailureOf(tc.err)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("AuthFailureOf = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
			if ok && !errors.Is(tc.err, ErrUnauthenticated) {
				t.Fatal("an auth failure that does not wrap ErrUnauthenticated")
			}
		})
	}
	if err := (&AuthError{Failure: AuthExpired, Err: cause}); !errors.Is(err, cause) {
		t.Fatal("AuthError does not wrap its cause")
	}
}

// adapterRefusal is an adapter's refusal type, counted by its reason.
type adapterRefusal struct{ reason string }

func (r adapterRefusal) Error() string            { return "refused: " + r.reason }
func (r adapterRefusal) Unwrap() error            { return ErrUnauthenticated }
func (r adapterRefusal) AuthFailure() AuthFailure { return AuthFailure(r.reason) }
