// Package datetime parses the dates and times sources send (RFC 3339, and
// the CDA forms yyyyMMdd, yyyyMMddHHmm+ZZ00, yyyyMMddHHmmss+ZZ00) and
// normalizes them to one spelling: dates as YYYY-MM-DD, moments as RFC 3339
// at Moscow time (+03:00), as EGISZ.md §2.5 asks.
package datetime

import (
	"errors"
	"fmt"
	"time"
)

// Moscow is UTC+3 all year (no daylight saving since 2014). A fixed zone
// keeps the gateway independent of the host's time zone database.
var Moscow = time.FixedZone("MSK", 3*60*60)

// Errors of parsing. They never quote the value (it may be a birth date).
var (
	ErrFormat   = errors.New("not a recognised date or time format")
	ErrNoOffset = errors.New("a time needs its UTC offset (e.g. +03:00)")
)

var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-0700",
	"200601021504-0700",
	"20060102150405-0700",
}

// ParseDateTime parses a moment with its offset.
func ParseDateTime(s string) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
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
	if errors.Is(err, ErrNoOffset) {
		return err.Error()
	}
	return fmt.Sprintf("expected %s", want)
}
