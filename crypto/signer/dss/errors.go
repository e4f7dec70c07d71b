package dss

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

var (
	// ErrAuth is returned when DSS or its identity centre refuses our
	// credentials or token: fix the configuration, retrying will not help.
	ErrAuth = errors.New("dss: authentication failed")
	// ErrTransport is returned, wrapping the cause, when DSS could not be
	// reached or did not answer in time after every attempt.
	ErrTransport = errors.New("dss: transport failure")
	// ErrMalformedResponse is returned when DSS answers 200 with a body
	// that is not what its API returns.
	ErrMalformedResponse = errors.New("dss: malformed response")
	// ErrSignatureInvalid is returned when the signature DSS returned does
	// not verify with the certificate's key in either byte order: DSS
	// signed with another key, or another digest.
	ErrSignatureInvalid = errors.New("dss: returned signature does not verify with the certificate")
	// ErrCertificate is returned when the signing certificate cannot be
	// found in DSS or is not a ГОСТ Р 34.10-2012 certificate.
	ErrCertificate = errors.New("dss: signing certificate")
	// ErrDigestSize is returned by SignDigest for a digest of the wrong
	// length for the key's algorithm.
	ErrDigestSize = errors.New("dss: digest size does not match the algorithm")
)

// Error is DSS's own refusal: an HTTP status with, where DSS sent one, its
// error code and description. Descriptions are DSS's text, cut short and
// stripped of control characters; DSS does not echo PINs or tokens.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is DSS's error code, e.g. "invalid_signature_params", or "".
	Code string
	// Description is DSS's explanation, or "".
	Description string
}

// Error says the status, code and description.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dss: HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later: server
// errors and rate limiting.
func (e *Error) Temporary() bool {
	return e.Status >= 500 || e.Status == 429
}

// maxDescription bounds how much of DSS's text goes into an error.
const maxDescription = 200

// cleanText makes server-supplied text safe to put in an error or a log:
// one line, no control characters, bounded length.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxDescription {
		s = string(r[:maxDescription]) + "…"
	}
	return s
}
