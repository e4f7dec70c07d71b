// Package ident checks and normalizes the identifiers of Russian healthcare
// data: СНИЛС, ЕНП, OIDs and MIS-local identifiers, ICD-10 codes and
// personal names, and masks personal identifiers for logs and error texts.
// The rules and their sources are in shared/domain/EGISZ.md §2.
package ident

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of SNILS and ENP checks. Their texts never hold the number.
var (
	ErrFormat   = errors.New("wrong format")
	ErrChecksum = errors.New("checksum does not match")
)

// snilsMinChecked is 001-001-998: numbers up to it carry no checksum.
const snilsMinChecked = 1001998

// NormalizeSNILS accepts a СНИЛС in the spellings sources use (11 digits,
// optionally grouped 3-3-3 with a hyphen or a space, and the check number
// after a space or a hyphen) and returns its 11 digits. It returns
// ErrFormat for anything else (other dashes, full-width digits, letters,
// wrong length, all zeros) and ErrChecksum when the check number is wrong.
func NormalizeSNILS(s string) (string, error) {
	digits, ok := snilsDigits(s)
	if !ok {
		return "", ErrFormat
	}
	if digits == "00000000000" {
		return "", ErrFormat
	}
	if !snilsChecksumOK(digits) {
		return "", ErrChecksum
	}
	return digits, nil
}

// snilsDigits applies the schematron's shape ^([0-9]{3}[-\s]?){3}[0-9]{2}$,
// also accepting a hyphen before the check number (429-010-912-50), and
// returns the digits.
func snilsDigits(s string) (string, bool) {
	var b [11]byte
	n := 0
	sepAllowed := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == 11 {
				return "", false
			}
			b[n] = c
			n++
			sepAllowed = n == 3 || n == 6 || n == 9
		case (c == '-' || c == ' ') && sepAllowed:
			sepAllowed = false
		default:
			return "", false
		}
	}
	if n != 11 {
		return "", false
	}
	return string(b[:]), true
}

func snilsChecksumOK(d string) bool {
	number := 0
	for i := 0; i < 9; i++ {
		number = number*10 + int(d[i]-'0')
	}
	if number <= snilsMinChecked {
		return true
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * (9 - i)
	}
	want := snilsCheck(sum)
	got := int(d[9]-'0')*10 + int(d[10]-'0')
	return got == want
}

// snilsCheck reduces the weighted sum to the check number: under 100 it is
// the number, 100 and 101 give 00, above 101 the sum is taken mod 101 and
// the rule applied again.
func snilsCheck(sum int) int {
	for {
		switch {
		case sum < 100:
			return sum
		case sum == 100 || sum == 101:
			return 0
		default:
			sum %= 101
		}
	}
}

// MaskSNILS masks a СНИЛС for logs, metrics and error texts, keeping the
// first three digits and the check number: 112-***-*** 95. Anything that is
// not 11 digits after normalization is masked whole.
func MaskSNILS(s string) string {
	d, ok := snilsDigits(s)
	if !ok {
		return maskAll(s)
	}
	return d[:3] + "-***-*** " + d[9:]
}

// MaskPatientKey masks a patient key (DESIGN §2) for logs, error texts and
// display: a СНИЛС keeps its first three digits and check number, an ЕНП
// its first and last two, a MIS-local id keeps the MO's OID and hides the
// patient's id. Anything else has its digit runs masked.
func MaskPatientKey(k string) string {
	s := strings.ToValidUTF8(k, "?")
	switch {
	case len(s) == 11 && allDigits(s):
		return MaskSNILS(s)
	case strings.HasPrefix(s, "enp:"):
		return "enp:" + MaskENP(s[4:])
	case strings.HasPrefix(s, "local:"):
		if i := strings.LastIndexByte(s, ':'); i > len("local:") {
			return s[:i+1] + "***"
		}
	}
	return ScrubDigits(s)
}

// MaskENP keeps the first two and the last two digits of a policy number.
func MaskENP(s string) string {
	if len(s) != 16 || !allDigits(s) {
		return maskAll(s)
	}
	return s[:2] + strings.Repeat("*", 12) + s[14:]
}

func maskAll(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MakeSNILS returns the 11 digits of the СНИЛС numbered n (its first nine
// digits) with the right check number. Test data and the load generator
// use it; n must be above 1001998 and below 1e9 to carry a checksum.
func MakeSNILS(n int) string {
	body := fmt.Sprintf("%09d", n%1_000_000_000)
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(body[i]-'0') * (9 - i)
	}
	return fmt.Sprintf("%s%02d", body, snilsCheck(sum))
}
