package ident

import (
	"regexp"
	"strings"
)

// personalDigits are runs that may be a СНИЛС (with or without its
// separators), an ЕНП, a passport or a policy number.
var personalDigits = regexp.MustCompile(`\d{3}[- ]?\d{3}[- ]?\d{3}[- ]?\d{2}\d*|\d{10,}`)

// ScrubDigits masks every run of digits in s that may be a personal
// number, keeping the text's length and shape: free text from registries
// and sources echoes patients' numbers where no field name says so.
func ScrubDigits(s string) string {
	return personalDigits.ReplaceAllStringFunc(s, func(m string) string { return strings.Repeat("*", len(m)) })
}
