package remd

import (
	"fmt"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/seam"
)

// The runtime counts a refused message by its reason: each reason of a
// message not authenticated is one of seam's, unchanged through wrapping.
func TestRefusalsAreCountedByTheirReason(t *testing.T) {
	for _, reason := range []string{ReasonUnsigned, ReasonBadSignature, ReasonUntrusted, ReasonExpired, ReasonReplayed} {
		err := fmt.Errorf("inbound: %w", &refusal{reason: reason, kind: seam.ErrUnauthenticated})
		if got, ok := seam.AuthFailureOf(err); !ok || string(got) != reason {
			t.Errorf("%s counted as %q (%v)", reason, got, ok)
		}
	}
	for _, reason := range []string{ReasonMalformed, ReasonBadRequest} {
		if _, ok := seam.AuthFailureOf(&refusal{reason: reason, kind: ErrBadMessage}); ok {
			t.Errorf("%s counted as an authentication failure", reason)
		}
	}
}
