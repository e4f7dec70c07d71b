package certseen

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

const mo = "1.2.643.5.1.13.13.12.1.42.202"

var now = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

type side map[string][]byte

func (s side) Side(table, key string) ([]byte, bool) { v, ok := s[table+"|"+key]; return v, ok }

func cert(raw string, serial int64, issuerCN string, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{Raw: []byte(raw), SerialNumber: big.NewInt(serial),
		Issuer:    pkix.Name{CommonName: issuerCN, Organization: []string{"Федеральное казначейство"}},
		NotBefore: notAfter.AddDate(-1, 0, 0), NotAfter: notAfter}
}

var doctor = gostx509.Subject{SNILS: "12345678964", Surname: "Петров", GivenNames: "Алексей Сергеевич", CommonName: "Петров Алексей Сергеевич"}

func TestFromSignature(t *testing.T) {
	c := cert("der-1", 0x1d7a3f, "Казначейство России", now.AddDate(0, 0, 10))
	s, err := FromSignature(mo, "doctor", c, doctor, now)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Record
	if len(r.SHA256) != 64 || s.Key != r.SHA256+"|"+mo || r.MOOID != mo || r.Role != "doctor" {
		t.Errorf("key %s, record %+v", s.Key, r)
	}
	if r.Serial != "1d7a3f" || r.Issuer != "Казначейство России" || r.NotAfter != "2027-03-11T09:00:00Z" || r.NotBefore != "2026-03-11T09:00:00Z" || r.SeenAt != "2027-03-01T09:00:00Z" {
		t.Errorf("record %+v", r)
	}
	if r.Holder != "П*** А*** С***" {
		t.Errorf("holder %q", r.Holder)
	}
	// Another certificate has another key; the same for another clinic too.
	other, _ := FromSignature(mo, "doctor", cert("der-2", 0x1d7a3f, "Казначейство России", now), doctor, now)
	there, _ := FromSignature("1.2.643.5.1.13.13.12.1.42.117", "doctor", c, doctor, now)
	if other.Key == s.Key || there.Key == s.Key || there.Record.SHA256 != r.SHA256 {
		t.Errorf("keys %s, %s, %s: want three", s.Key, other.Key, there.Key)
	}
	// An issuer without a common name is named whole.
	noCN := cert("der-3", 1, "", now)
	if s, _ := FromSignature(mo, "doctor", noCN, doctor, now); !strings.Contains(s.Record.Issuer, "Федеральное казначейство") {
		t.Errorf("issuer without CN: %q", s.Record.Issuer)
	}
	if _, err := FromSignature(mo, "doctor", nil, doctor, now); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificate: %v", err)
	}
}

func TestHolderLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    gostx509.Subject
		want string
	}{
		{"person", doctor, "П*** А*** С***"},
		{"person by common name only", gostx509.Subject{SNILS: "12345678964", CommonName: "Иванова Мария"}, "И*** М***"},
		{"sole proprietor", gostx509.Subject{OGRNIP: "304500116000157", CommonName: "ИП Сидоров Пётр"}, "И*** С*** П***"},
		{"organization", gostx509.Subject{OGRN: "1027700132195", Organization: "ГБУЗ  «Городская больница № 2»", CommonName: "ГБУЗ ГБ 2"}, "ГБУЗ «Городская больница № 2»"},
		{"organization by common name", gostx509.Subject{OGRN: "1027700132195", CommonName: "ГБУЗ ГБ 2"}, "ГБУЗ ГБ 2"},
		{"long organization name", gostx509.Subject{Organization: strings.Repeat("я", 300)}, strings.Repeat("я", maxHolder) + "…"},
		{"nothing", gostx509.Subject{}, ""},
	} {
		if got := HolderLabel(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPublish(t *testing.T) {
	soon, _ := FromSignature(mo, "doctor", cert("der-soon", 1, "CA", now.AddDate(0, 0, 10)), doctor, now)
	org, _ := FromSignature(mo, "organization", cert("der-org", 2, "CA", now.AddDate(1, 0, 0)), gostx509.Subject{OGRN: "1027700132195", Organization: "ГБУЗ"}, now)
	expired, _ := FromSignature(mo, "doctor", cert("der-old", 3, "CA", now.Add(-time.Hour)), doctor, now)
	for _, tc := range []struct {
		name string
		side side
		seen []Seen
		at   time.Time
		want []string // keys published, in order
	}{
		{"new", side{}, []Seen{soon, org}, now, []string{soon.Key, org.Key}},
		{"listed twice", side{}, []Seen{soon, soon}, now, []string{soon.Key}},
		{"expired", side{}, []Seen{expired}, now, nil},
		{"published an hour ago", side{Table + "|" + soon.Key: encodeEntry(now.Add(-time.Hour))}, []Seen{soon, org}, now, []string{org.Key}},
		{"published over a day ago", side{Table + "|" + soon.Key: encodeEntry(now.Add(-Refresh))}, []Seen{soon}, now, []string{soon.Key}},
		{"entry from the future", side{Table + "|" + soon.Key: encodeEntry(now.Add(time.Hour))}, []Seen{soon}, now, []string{soon.Key}},
		{"unreadable entry", side{Table + "|" + soon.Key: []byte{1}}, []Seen{soon}, now, []string{soon.Key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writes, pubs := Publish(tc.seen, tc.side, tc.at)
			if len(writes) != len(tc.want) || len(pubs) != len(tc.want) {
				t.Fatalf("%d writes, %d records; want %d", len(writes), len(pubs), len(tc.want))
			}
			for i, key := range tc.want {
				w, p := writes[i], pubs[i]
				if at, err := decodeEntry(w.Value); w.Table != Table || w.Key != key || err != nil || !at.Equal(tc.at) || w.Timed {
					t.Errorf("write %+v: want %s at %s", w, key, tc.at)
				}
				var r topics.SeenCertificate
				if p.Topic != topics.CertificateSeen || p.Key != key || json.Unmarshal(p.Value, &r) != nil || r.SHA256+"|"+r.MOOID != key {
					t.Errorf("record %s %s %s", p.Topic, p.Key, p.Value)
				}
				if p.Headers[topics.HeaderID] != recordID(key, tc.at) {
					t.Errorf("ce_id %q", p.Headers[topics.HeaderID])
				}
			}
		})
	}
}
