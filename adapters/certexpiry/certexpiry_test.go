package certexpiry

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

const (
	moA = "1.2.643.5.1.13.13.12.1.42.202"
	moB = "1.2.643.5.1.13.13.12.1.42.117"
	moC = "1.2.643.5.1.13.13.12.1.42.118"
	moD = "1.2.643.5.1.13.13.12.1.42.119"
)

// now is noon in Moscow on 1 March 2027.
var now = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

func cert(serial string, notAfter string) topics.Certificate {
	return topics.Certificate{Serial: serial, NotBefore: "2026-01-01T00:00:00+03:00", NotAfter: topics.DateTime(notAfter)}
}

func workers() []*topics.Employee {
	return []*topics.Employee{
		{SNILS: "12345678964", Posts: []topics.Post{{MOOID: moA, From: "2019-09-01"}, {MOOID: moB, From: "2015-01-01", Until: "2019-08-31"}},
			Certificates: []topics.Certificate{cert("a-5d", "2027-03-06T12:00:00+03:00"), cert("a-1y", "2028-03-01T00:00:00+03:00")}},
		// Two clinics today: the certificate counts under both.
		{SNILS: "11223344595", Posts: []topics.Post{{MOOID: moA, From: "2020-01-01"}, {MOOID: moB, From: "2020-01-01"}, {MOOID: moB, From: "2021-01-01"}},
			Certificates: []topics.Certificate{cert("b-10d", "2027-03-11T12:00:00+03:00")}},
		{SNILS: "00000000101", Posts: []topics.Post{{MOOID: moC, From: "2020-01-01"}},
			Certificates: []topics.Certificate{
				cert("c-20d", "2027-03-21T12:00:00+03:00"),
				cert("c-expired", "2027-02-28T12:00:00+03:00"),  // already over: not expiring
				cert("c-30d-edge", "2027-03-31T12:00:00+03:00"), // exactly 30 days
				cert("c-bad", "31.03.2027"),                     // an end that does not parse
			}},
		// No post today: signs for no clinic.
		{SNILS: "00000000202", Posts: []topics.Post{{MOOID: moC, From: "2010-01-01", Until: "2026-12-31"}},
			Certificates: []topics.Certificate{cert("d-3d", "2027-03-04T12:00:00+03:00")}},
		nil,
	}
}

func each[V any](vs []V) func(func(V) bool) {
	return func(f func(V) bool) {
		for _, v := range vs {
			if !f(v) {
				return
			}
		}
	}
}

func TestFindListsByClinicWithinTheWindow(t *testing.T) {
	for _, tc := range []struct {
		within time.Duration
		want   []string // mo|serial, in order
	}{
		{7 * 24 * time.Hour, []string{moA + "|a-5d"}},
		{14 * 24 * time.Hour, []string{moB + "|b-10d", moA + "|a-5d", moA + "|b-10d"}},
		{30 * 24 * time.Hour, []string{moB + "|b-10d", moC + "|c-20d", moC + "|c-30d-edge", moA + "|a-5d", moA + "|b-10d"}},
	} {
		var got []string
		for _, x := range Find(Sources{Employees: each(workers())}, now, tc.within) {
			got = append(got, x.MOOID+"|"+x.Serial)
			if x.Worker == nil || x.NotAfter.IsZero() || x.Source != SourceFRMR {
				t.Errorf("%s: entry without its worker or end", x.Serial)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("within %s: got %q, want %q", tc.within, got, tc.want)
		}
	}
}

func TestCountIsCumulativeByWindow(t *testing.T) {
	var got map[string]map[string]int
	want := map[string]map[string]int{
		moA: {"30d": 2, "14d": 2, "7d": 1},
		moB: {"30d": 1, "14d": 1, "7d": 0},
		moC: {"30d": 2, "14d": 0, "7d": 0},
	}
	// A clinic whose workers' certificates all end late reports zeros.
	ws := append(workers(), &topics.Employee{SNILS: "00000000303", Posts: []topics.Post{{MOOID: moD, From: "2020-01-01"}},
		Certificates: []topics.Certificate{cert("e-1y", "2028-03-01T00:00:00+03:00")}})
	want[moD] = map[string]int{"30d": 0, "14d": 0, "7d": 0}
	got = Count(Sources{Employees: each(ws)}, now)
	if len(got) != len(want) {
		t.Fatalf("clinics %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for mo, w := range want {
		if !maps.Equal(got[mo], w) {
			t.Errorf("%s: %v, want %v", mo, got[mo], w)
		}
	}
	if n := len(Count(Sources{Employees: each[*topics.Employee](nil)}, now)); n != 0 {
		t.Errorf("no workers: %d clinics", n)
	}
}

func seen(mo, serial, issuer, notAfter string) *topics.SeenCertificate {
	return &topics.SeenCertificate{SHA256: serial + "-fp", MOOID: mo, Role: "doctor", Serial: serial, Issuer: issuer,
		NotBefore: "2026-03-01T00:00:00Z", NotAfter: topics.DateTime(notAfter), Holder: "П*** А*** С***", SeenAt: "2027-02-28T09:00:00Z"}
}

// Certificates seen in documents count beside ФРМР's: within the window
// and not beyond, under the document's clinic, once when ФРМР lists the
// same certificate there.
func TestDocumentCertificates(t *testing.T) {
	docs := []*topics.SeenCertificate{
		seen(moD, "d-10d", "Казначейство России", "2027-03-11T09:00:00Z"),
		seen(moD, "d-40d", "Казначейство России", "2027-04-10T09:00:00Z"), // beyond 30 days
		seen(moD, "d-expired", "", "2027-02-01T09:00:00Z"),
		seen(moD, "d-bad", "", "11.03.2027"),
		// ФРМР lists b-10d at moA (written with leading zeros and upper
		// case here, the CA by its whole name): counted once, as ФРМР's.
		seen(moA, "00B-10D", "CN=Казначейство России,O=Федеральное казначейство,C=RU", "2027-03-11T12:00:00+03:00"),
		// The same serial from another CA is another certificate.
		seen(moA, "a-5d", "УЦ ООО «Другой»", "2027-03-06T12:00:00+03:00"),
		// The same certificate under a clinic where ФРМР does not list it.
		seen(moC, "b-10d", "", "2027-03-11T12:00:00+03:00"),
		{MOOID: ""}, nil,
	}
	// Not seen for over a week: taken as replaced by a renewed one.
	stale := seen(moD, "d-stale", "", "2027-03-05T09:00:00Z")
	stale.SeenAt = topics.DateTime(now.Add(-SeenFresh - time.Minute).Format(time.RFC3339))
	lastWeek := seen(moD, "d-week", "", "2027-03-05T09:00:00Z")
	lastWeek.SeenAt = topics.DateTime(now.Add(-SeenFresh).Format(time.RFC3339))
	noTime := seen(moD, "d-no-time", "", "2027-03-05T09:00:00Z")
	noTime.SeenAt = ""
	docs = append(docs, stale, lastWeek, noTime)
	ws := workers()
	ws[1].Certificates[0].Issuer = "Казначейство России"
	ws[0].Certificates[0].Issuer = "Казначейство России"
	src := Sources{Employees: each(ws), Seen: each(docs)}
	var got []string
	for _, x := range Find(src, now, 30*24*time.Hour) {
		got = append(got, x.MOOID+"|"+x.Serial+"|"+x.Source)
		if (x.Source == SourceDocument) != (x.Seen != nil) || (x.Source == SourceFRMR) != (x.Worker != nil) {
			t.Errorf("%s %s: source %s with worker %v, seen %v", x.MOOID, x.Serial, x.Source, x.Worker != nil, x.Seen != nil)
		}
	}
	want := []string{
		moB + "|b-10d|frmr",
		moC + "|b-10d|document", moC + "|c-20d|frmr", moC + "|c-30d-edge|frmr",
		moD + "|d-week|document", moD + "|d-10d|document",
		moA + "|a-5d|document", moA + "|a-5d|frmr", moA + "|b-10d|frmr",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	counts := Count(src, now)
	for mo, w := range map[string]map[string]int{
		moA: {"30d": 3, "14d": 3, "7d": 2},
		moC: {"30d": 3, "14d": 1, "7d": 0},
		moD: {"30d": 2, "14d": 2, "7d": 1},
	} {
		if !maps.Equal(counts[mo], w) {
			t.Errorf("%s: %v, want %v", mo, counts[mo], w)
		}
	}
	// A clinic known only from documents, none ending soon, reports zeros.
	only := Count(Sources{Seen: each([]*topics.SeenCertificate{seen(moD, "d-40d", "", "2027-04-10T09:00:00Z")})}, now)
	if !maps.Equal(only[moD], map[string]int{"30d": 0, "14d": 0, "7d": 0}) || len(only) != 1 {
		t.Errorf("documents only: %v", only)
	}
}
