// Package certexpiry finds the signing certificates that run out soon, by
// clinic: those ФРМР lists for medical workers and those the gateway saw
// signing the clinic's documents, so that clinics renew them before their
// documents start coming back from РЭМД with a certificate error.
package certexpiry

import (
	"cmp"
	"slices"
	"strings"
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

// Where a certificate was found.
const (
	SourceFRMR     = "frmr"     // ФРМР lists it for a worker with a post at the clinic
	SourceDocument = "document" // it signed a document of the clinic the gateway accepted
)

// SeenFresh is how recently a certificate must have been seen signing a
// clinic's documents to count. ФРМР drops a renewed worker's old
// certificate; the documents say nothing of renewal, only that the old
// certificate is no longer used. The normalize stage publishes a
// certificate in use again every day (adapters/certseen.Refresh), so one
// unseen for a week is taken as replaced and its warning ends, where it
// would otherwise last until the certificate itself ends. The cost: a
// worker who signs less than weekly is warned of only by ФРМР.
const SeenFresh = 7 * 24 * time.Hour

// Sources are the certificates to look through: ФРМР's workers (a
// reference table's Range) and the certificates seen in documents
// (topics.CertificateSeen). Either may be nil.
type Sources struct {
	Employees func(func(*topics.Employee) bool)
	Seen      func(func(*topics.SeenCertificate) bool)
}

// Expiring is one certificate that ends within a window, under one clinic.
// From ФРМР, Worker is the record of a worker with a post there today: its
// names and СНИЛС are personal data, which the caller masks or reveals.
// From a document, Seen is what the gateway kept of it: a masked holder.
type Expiring struct {
	MOOID    string
	Source   string // SourceFRMR or SourceDocument
	Worker   *topics.Employee
	Seen     *topics.SeenCertificate
	Serial   string
	Issuer   string
	NotAfter time.Time
}

// Find lists the certificates valid at now that end within the given
// time, by clinic. A ФРМР certificate is listed once for each clinic where
// its holder has a post today (a worker at two clinics signs for both); a
// worker with no post today signs for none and is left out. A certificate
// seen in a document is listed under the document's clinic while it was
// seen within SeenFresh, unless ФРМР's list has it there already (the same
// serial, and issuers that agree): then it is listed once, as ФРМР's. Certificates already expired, or with
// an end that does not parse, are left out. The list is sorted by clinic,
// then end.
func Find(src Sources, now time.Time, within time.Duration) []Expiring {
	var out []Expiring
	until := now.Add(within)
	ending := func(notAfter string) (time.Time, bool) {
		na, err := datetime.ParseDateTime(notAfter)
		return na, err == nil && na.After(now) && !na.After(until)
	}
	if src.Employees != nil {
		src.Employees(func(e *topics.Employee) bool {
			if e == nil {
				return true
			}
			var ends []Expiring
			for _, c := range e.Certificates {
				if na, ok := ending(string(c.NotAfter)); ok {
					ends = append(ends, Expiring{Source: SourceFRMR, Worker: e, Serial: c.Serial, Issuer: c.Issuer, NotAfter: na})
				}
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
	}
	if src.Seen != nil {
		src.Seen(func(c *topics.SeenCertificate) bool {
			if c == nil || c.MOOID == "" {
				return true
			}
			na, ok := ending(string(c.NotAfter))
			if !ok || !seenSince(c, now.Add(-SeenFresh)) || slices.ContainsFunc(out, func(x Expiring) bool { return x.MOOID == c.MOOID && sameCertificate(x, c.Serial, c.Issuer) }) {
				return true
			}
			out = append(out, Expiring{MOOID: c.MOOID, Source: SourceDocument, Seen: c, Serial: c.Serial, Issuer: c.Issuer, NotAfter: na})
			return true
		})
	}
	slices.SortFunc(out, func(a, b Expiring) int {
		return cmp.Or(cmp.Compare(a.MOOID, b.MOOID), a.NotAfter.Compare(b.NotAfter), cmp.Compare(a.Serial, b.Serial), cmp.Compare(a.Source, b.Source))
	})
	return out
}

// seenSince reports whether c was last seen at or after since; a record
// without a readable time was not.
func seenSince(c *topics.SeenCertificate, since time.Time) bool {
	at, err := datetime.ParseDateTime(string(c.SeenAt))
	return err == nil && !at.Before(since)
}

// sameCertificate reports whether x is the certificate of that serial and
// issuer. Serials compare as hex numbers (leading zeros, case); issuers
// agree when either is unknown or one name holds the other (ФРМР may write
// the CA's common name, a signature has its whole name).
func sameCertificate(x Expiring, serial, issuer string) bool {
	if !strings.EqualFold(strings.TrimLeft(x.Serial, "0"), strings.TrimLeft(serial, "0")) {
		return false
	}
	a, b := normalizeIssuer(x.Issuer), normalizeIssuer(issuer)
	return a == "" || b == "" || strings.Contains(a, b) || strings.Contains(b, a)
}

func normalizeIssuer(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// Count is, by clinic and by window label, how many certificates end
// within the window: the values of egisz_certificates_expiring. Every
// clinic where a worker with a certificate on record holds a post today,
// and every clinic a certificate was seen signing for, has every window's
// count, zeros included: a 0 says the clinic's certificates are known and
// none ends soon, where no series would not. A certificate both sources
// know is counted once (Find).
func Count(src Sources, now time.Time) map[string]map[string]int {
	out := map[string]map[string]int{}
	known := func(mo string) {
		if out[mo] == nil {
			byWindow := make(map[string]int, len(Windows))
			for _, w := range Windows {
				byWindow[w.Label] = 0
			}
			out[mo] = byWindow
		}
	}
	if src.Employees != nil {
		src.Employees(func(e *topics.Employee) bool {
			if e == nil || len(e.Certificates) == 0 {
				return true
			}
			for _, mo := range clinicsOn(e, now) {
				known(mo)
			}
			return true
		})
	}
	if src.Seen != nil {
		src.Seen(func(c *topics.SeenCertificate) bool {
			if c != nil && c.MOOID != "" {
				known(c.MOOID)
			}
			return true
		})
	}
	for _, x := range Find(src, now, Windows[0].Within) {
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
