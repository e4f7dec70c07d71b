package datetime

import (
	"errors"
	"testing"
)

func TestNormalizeDateTime(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"2024-03-20T14:30:00+03:00", "2024-03-20T14:30:00+03:00", nil},
		{"2024-03-20T11:30:00Z", "2024-03-20T14:30:00+03:00", nil},
		{"2024-03-20T16:30:00.123+05:00", "2024-03-20T14:30:00+03:00", nil},
		{"202403201430+0300", "2024-03-20T14:30:00+03:00", nil},
		{"20240320143000+0700", "2024-03-20T10:30:00+03:00", nil},
		{"2024-03-20T14:30:00", "", ErrNoOffset},
		{"202403201430", "", ErrNoOffset},
		{"20240320143000+0000", "2024-03-20T17:30:00+03:00", nil},
		{"2024-03-20T09:30:00-02:00", "2024-03-20T14:30:00+03:00", nil}, // RFC 3339 allows any offset
		// Offsets the contract does not name (issue 26 item 6).
		{"2024-03-20T14:30:00+0300", "", ErrOffsetForm},
		{"2024-03-20T14:30:00.5+0300", "", ErrOffsetForm},
		{"2024-03-20T14:30:00+03", "", ErrOffsetForm},
		{"2024-03-20T14:30+03:00", "", ErrFormat}, // RFC 3339 needs the seconds
		{"202403201430-0500", "", ErrCDAOffset},
		{"20240320143000-0300", "", ErrCDAOffset},
		{"202403201430+0345", "", ErrCDAOffset},
		{"202403201430+03:00", "", ErrFormat},
		{"202402301430+0300", "", ErrFormat},
		{"20.03.2024 14:30", "", ErrFormat},
		{"2024-02-30T10:00:00+03:00", "", ErrFormat},
		{"", "", ErrFormat},
	} {
		got, _, err := NormalizeDateTime(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("NormalizeDateTime(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNormalizeDate(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"1985-03-21", "1985-03-21", true},
		{"19850321", "1985-03-21", true},
		{"1985-02-29", "", false},
		{"1984-02-29", "1984-02-29", true},
		{"21.03.1985", "", false},
		{"1985-3-21", "", false},
	} {
		got, _, err := NormalizeDate(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("NormalizeDate(%q) = %q, %v", tc.in, got, err)
		}
	}
}
