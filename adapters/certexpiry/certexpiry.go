// Package certexpiry finds the signing certificates ФРМР lists for medical
// workers that run out soon, by clinic, so that clinics renew them before
// their documents start coming back from РЭМД with a certificate error.
package certexpiry

import (
	"cmp"
	"slices"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Window is a horizon the gateway reports certificates within.
type Window struct {
	Label  string // the metric's within label: 30d, 14d, 7d
	Within time.Duration
}

// Windows are the horizons of egisz_certificates_expiring, widest first.
var Windows = []Window{{"30d", 30 * 24 * time.Hour}, {"14d", 14 * 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}}

// Expiring is one certificate that ends within a window, under one clinic
// where its holder has a post today. Worker is the ФРМР record: its names
// and СНИЛС are personal data, which the caller masks or reveals.
type Expiring struct {
	MOOID    string
	Worker   *topics.Employee
	Serial   string
	NotAfter time.Time
}

// Find lists the certificates valid at now that end within the given
// time, once for each clinic where their holder has a post today (a
// worker at two clinics signs for both); a worker with no post today signs
// for none and is left out, as are certificates already expired or with
// an end date that does not parse. each yields the ФРМР records (a
// reference table's Range). The list is sorted by clinic, then end.
func Find(each func(func(*topics.Employee) bool), now time.Time, within time.Duration) []Expiring {
	var out []Expiring
	until := now.Add(within)
	each(func(e *topics.Employee) bool {
		if e == nil {
			return true
		}
		var ends []Expiring
		for _, c := range e.Certificates {
			na, err := datetime.ParseDateTime(string(c.NotAfter))
			if err != nil || !na.After(now) || na.After(until) {
				continue
			}
			ends = append(ends, Expiring{Worker: e, Serial: c.Serial, NotAfter: na})
		}
		if len(ends) == 0 {
			return true
		}
		for _, mo := range clinicsOn(e, now) {
			for _, x := range ends {
				x.MOOID = mo
				out = append(out, x)
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b Expiring) int {
		return cmp.Or(cmp.Compare(a.MOOID, b.MOOID), a.NotAfter.Compare(b.NotAfter), cmp.Compare(a.Serial, b.Serial))
	})
	return out
}

// Count is, by clinic and by window label, how many certificates end
// within the window: the values of egisz_certificates_expiring. Every
// clinic where a worker with a certificate on record holds a post today
// has every window's count, zeros included: a 0 says the clinic's
// certificates are known and none ends soon, where no series would not.
func Count(each func(func(*topics.Employee) bool), now time.Time) map[string]map[string]int {
	out := map[string]map[string]int{}
	each(func(e *topics.Employee) bool {
		if e == nil || len(e.Certificates) == 0 {
			return true
		}
		for _, mo := range clinicsOn(e, now) {
			if out[mo] == nil {
				byWindow := make(map[string]int, len(Windows))
				for _, w := range Windows {
					byWindow[w.Label] = 0
				}
				out[mo] = byWindow
			}
		}
		return true
	})
	for _, x := range Find(each, now, Windows[0].Within) {
		byWindow := out[x.MOOID]
		for _, w := range Windows {
			if !x.NotAfter.After(now.Add(w.Within)) {
				byWindow[w.Label]++
			}
		}
	}
	return out
}

// clinicsOn lists, once each, the organizations where the worker holds a
// post on now's day (Moscow time, as ФРМР dates are).
func clinicsOn(e *topics.Employee, now time.Time) []string {
	day := now.In(datetime.Moscow).Format("2006-01-02")
	var out []string
	for _, p := range e.Posts {
		if (p.From == "" || string(p.From) <= day) && (p.Until == "" || day <= string(p.Until)) && !slices.Contains(out, p.MOOID) {
			out = append(out, p.MOOID)
		}
	}
	return out
}
