package remd

import "github.com/egisz-gateway/egisz-gateway/seam"

// AuthFailure is the refusal's reason as the runtime counts it
// (seam.AuthFailurer): the five reasons of a message not authenticated
// are spelled as seam's AuthFailure values; any other reason is not an
// authentication failure and seam.AuthFailureOf does not ask for it.
func (e *refusal) AuthFailure() seam.AuthFailure { return seam.AuthFailure(e.reason) }
