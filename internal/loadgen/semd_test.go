package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/normalize"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestDocumentsAreSignedSEMD: every generated document carries a CDA of
// 10-20 KiB whose header is the event's, signed by the doctor (a personal
// certificate with the doctor's СНИЛС) and the organization (ОГРН, no
// СНИЛС) under the committed test CA; a doctor keeps one certificate; an
// expired document's certificate ended before its signing time.
func TestDocumentsAreSignedSEMD(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	g := New(Config{Seed: 11, Now: now, Patients: 100})
	v := testVerifier(t)
	certOf := map[string][]byte{} // doctor СНИЛС -> certificate
	check := func(ev Event, expired bool) {
		t.Helper()
		var doc topics.DocumentEvent
		if err := json.Unmarshal(ev.Record.Value, &doc); err != nil {
			t.Fatal(err)
		}
		file := doc.File.Data
		if n := len(file); n < 10<<10 || n > 21<<10 || doc.File.Size != int64(n) {
			t.Errorf("CDA of %d bytes (declared %d), want 10-20 KiB", n, doc.File.Size)
		}
		h, err := cda.Parse(file)
		if err != nil {
			t.Fatal(err)
		}
		if h.ID != doc.DocumentID || h.CustodianOID != doc.MOOID {
			t.Error("the CDA's header is not the event's")
		}
		if len(doc.Signers) != 2 || doc.Signers[0].Role != "doctor" || doc.Signers[1].Role != "organization" {
			t.Fatalf("signers %+v", doc.Signers)
		}
		for _, s := range doc.Signers {
			sd, err := cms.Parse(s.Signature)
			if err != nil {
				t.Fatal(err)
			}
			subj, err := gostx509.SubjectOf(sd.Signer)
			if err != nil {
				t.Fatal(err)
			}
			at, _ := datetime.ParseDateTime(string(s.SignedAt))
			if !sd.SigningTime.Equal(at) {
				t.Errorf("%s: signingTime %s, signed_at %s", s.Role, sd.SigningTime, s.SignedAt)
			}
			if s.Role == "organization" {
				if subj.SNILS != "" || subj.OGRN == "" {
					t.Errorf("organization certificate: СНИЛС %q, ОГРН %q", subj.SNILS, subj.OGRN)
				}
			} else {
				want, _ := ident.NormalizeSNILS(s.Person.SNILS)
				if subj.SNILS != want || subj.Surname != s.Person.FamilyName {
					t.Error("the doctor's certificate does not name the doctor")
				}
				if prev, ok := certOf[want+"/"+string(s.Certificate.NotAfter)]; ok && !bytes.Equal(prev, sd.Signer.Raw) {
					t.Error("a doctor got a second certificate for the same validity")
				}
				certOf[want+"/"+string(s.Certificate.NotAfter)] = sd.Signer.Raw
			}
			err = sd.Verify(bytes.NewReader(file))
			_, chainErr := v.Verify(sd.Signer, gostx509.VerifyOptions{At: sd.SigningTime})
			if expired && s.Role == "doctor" {
				if err == nil || chainErr == nil {
					t.Errorf("expired: the doctor's signature verifies (%v, %v)", err, chainErr)
				}
				continue
			}
			if err != nil || chainErr != nil {
				t.Errorf("%s: signature %v, chain %v", s.Role, err, chainErr)
			}
		}
	}
	docs := 0
	for range 400 {
		if ev := g.Next(); ev.Kind == "document" {
			check(ev, ev.Expect == Rejected)
			docs++
		}
	}
	if docs < 20 {
		t.Fatalf("only %d documents in 400 events", docs)
	}
	check(g.document(true), true)
	if len(certOf) > doctors {
		t.Errorf("%d doctor certificates for %d doctors", len(certOf), doctors)
	}
}

// TestDocumentsGetTheirOutcomeUnderTheChecks: with the gateway's checks of
// the CDA and the signatures (under the test CA, as dev and the stack run
// them), good documents are accepted and those signed with an expired
// certificate are rejected with the code the generator promises.
func TestDocumentsGetTheirOutcomeUnderTheChecks(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	g := New(Config{Seed: 5, Now: now, Patients: 100})
	r := refs{emp: map[string]*topics.Employee{}, org: map[string]*topics.Organization{}}
	for _, rec := range g.References() {
		if strings.HasSuffix(rec.Topic, topics.FRMREmployee) {
			var e topics.Employee
			if err := json.Unmarshal(rec.Value, &e); err != nil {
				t.Fatal(err)
			}
			r.emp[e.SNILS] = &e
		} else {
			var o topics.Organization
			if err := json.Unmarshal(rec.Value, &o); err != nil {
				t.Fatal(err)
			}
			r.org[o.OID] = &o
		}
	}
	v := testVerifier(t)
	checker, err := cda.NewChecker(cda.Config{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	opts := source.DefaultOptions()
	opts.Now = func() time.Time { return now }
	d := normalize.NewDecider(opts, r).WithDocuments(normalize.Documents{Checker: checker})
	for i := range 40 {
		ev := g.document(i%4 == 0)
		hs := map[string]string{}
		for _, h := range ev.Record.Headers {
			hs[h.Key] = string(h.Value)
		}
		dec := d.Decide(normalize.Input{Topic: ev.Record.Topic, Key: ev.Record.Key, Value: ev.Record.Value, Headers: hs}, now)
		got, code := Accepted, ""
		if len(dec.Reasons) > 0 {
			got, code = Rejected, dec.Reasons[0].Code
		}
		if got != ev.Expect || code != ev.Code {
			t.Fatalf("document %d: %s %s (%v), the generator said %s %s", i, got, code, dec.Reasons, ev.Expect, ev.Code)
		}
	}
}

// testVerifier trusts the committed test CA the generator signs under.
func testVerifier(t *testing.T) *gostx509.Verifier {
	t.Helper()
	pki, err := testpki.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := pki.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
