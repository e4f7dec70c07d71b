// Package datetime parses the dates and times sources send (RFC 3339, and
// the CDA forms yyyyMMdd, yyyyMMddHHmm+ZZ00, yyyyMMddHHmmss+ZZ00) and
// normalizes them to one spelling: dates as YYYY-MM-DD, moments as RFC 3339
// at Moscow time (+03:00), as EGISZ.md §2.5 asks.
package datetime

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Moscow is UTC+3 all year (no daylight saving since 2014). A fixed zone
// keeps the gateway independent of the host's time zone database.
var Moscow = time.FixedZone("MSK", 3*60*60)

// Errors of parsing. They never quote the value (it may be a birth date).
var (
	ErrFormat   = errors.New("not a recognised date or time format")
	ErrNoOffset = errors.New("a time needs its UTC offset (e.g. +03:00)")
	// ErrOffsetForm is an ISO-looking time whose offset is not spelled as
	// RFC 3339 spells it (+0300 or +03 for +03:00): the contract names RFC
	// 3339, and guessing at other spellings hides a sender's bug.
	ErrOffsetForm = errors.New("an RFC 3339 time spells its UTC offset +hh:mm or Z (+03:00, not +0300)")
	// ErrCDAOffset is a CDA time whose offset the СЭМД pattern
	// (…[0-2][0-9][0-5][0-9]\+[0-2][0-9][0-5]0) does not allow: a minus
	// sign, or minutes other than a multiple of ten.
	ErrCDAOffset = errors.New("a CDA time (yyyyMMddHHmm[ss]+ZZ00) takes a + offset such as +0300")
)

// cdaDateTime is the СЭМД pattern of a CDA moment (EGISZ.md §2.5): to the
// minute or the second, with a + offset whose last digit is 0.
var cdaDateTime = regexp.MustCompile(`^[0-9]{12}([0-9]{2})?\+[0-2][0-9][0-5]0$`)

// cdaLooking is any CDA-like moment with an offset, allowed or not.
var cdaLooking = regexp.MustCompile(`^[0-9]{12}([0-9]{2})?[+-][0-9]{4}$`)

// isoOtherOffset is an ISO 8601 moment whose offset lacks the colon or
// the minutes: valid ISO 8601, not RFC 3339.
var isoOtherOffset = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?[+-][0-9]{2}([0-9]{2})?$`)

// ParseDateTime parses a moment with its offset: RFC 3339 (any offset it
// allows, Z included), or the CDA spellings yyyyMMddHHmm+ZZ00 and
// yyyyMMddHHmmss+ZZ00 with the + offsets the СЭМД pattern allows.
func ParseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if cdaLooking.MatchString(s) {
		if !cdaDateTime.MatchString(s) {
			return time.Time{}, ErrCDAOffset
		}
		layout := "200601021504-0700"
		if len(s) == len("20060102150405-0700") {
			layout = "20060102150405-0700"
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			return time.Time{}, ErrFormat
		}
		return t, nil
	}
	if isoOtherOffset.MatchString(s) {
		return time.Time{}, ErrOffsetForm
	}
	for _, l := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "200601021504", "20060102150405"} {
		if _, err := time.Parse(l, s); err == nil {
			return time.Time{}, ErrNoOffset
		}
	}
	return time.Time{}, ErrFormat
}

// NormalizeDateTime parses s and spells it as RFC 3339 at Moscow time.
func NormalizeDateTime(s string) (string, time.Time, error) {
	t, err := ParseDateTime(s)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.In(Moscow).Format(time.RFC3339), t, nil
}

// ParseDate parses a calendar date, YYYY-MM-DD or yyyyMMdd. Impossible
// dates (February 30) are rejected.
func ParseDate(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02", "20060102"} {
		if t, err := time.ParseInLocation(l, s, Moscow); err == nil {
			return t, nil
		}
	}
	return time.Time{}, ErrFormat
}

// NormalizeDate parses s and spells it YYYY-MM-DD.
func NormalizeDate(s string) (string, time.Time, error) {
	t, err := ParseDate(s)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.Format("2006-01-02"), t, nil
}

// Describe returns a reason's detail for a parse error without the value.
func Describe(err error, want string) string {
	if errors.Is(err, ErrNoOffset) || errors.Is(err, ErrOffsetForm) || errors.Is(err, ErrCDAOffset) {
		return err.Error()
	}
	return fmt.Sprintf("expected %s", want)
}
