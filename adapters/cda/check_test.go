package cda_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

var (
	created   = time.Date(2026, 3, 20, 15, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	requestAt = created.Add(time.Hour)
)

// event is a prescription (kind 148) by one doctor with the organization's
// seal, as the docs' example has it.
func event() topics.DocumentEvent {
	return topics.DocumentEvent{
		Kind: "148", LocalUID: "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11",
		DocumentID: topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.51", Extension: "DOC-731-1"},
		SetID:      topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.50", Extension: "SET-731"},
		Version:    1, CreatedAt: topics.DateTime(created.Format(time.RFC3339)), MOOID: "1.2.643.5.1.13.13.12.1.42.202",
		Patient: topics.Patient{SNILS: "112-233-445 95", LocalID: "P-000123", FamilyName: "Иванова", GivenName: "Мария", Patronymic: "Петровна", BirthDate: "1985-03-21", Sex: "female"},
		Signers: []topics.Signer{
			{Role: "doctor", Person: doctor(), SignedAt: topics.DateTime(created.Add(2 * time.Minute).Format(time.RFC3339))},
			{Role: "organization", SignedAt: topics.DateTime(created.Add(5 * time.Minute).Format(time.RFC3339))},
		},
	}
}

func doctor() *topics.Person {
	return &topics.Person{SNILS: "123-456-789 64", FamilyName: "Петров", GivenName: "Алексей", Patronymic: "Сергеевич", PostCode: "109"}
}

// fixture is a test PKI and a checker trusting it.
type fixture struct {
	pki     *semdtest.PKI
	checker *cda.Checker
}

func newFixture(t testing.TB, alg signer.Algorithm) *fixture {
	t.Helper()
	p, err := semdtest.NewPKI(context.Background(), alg, created)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cda.NewChecker(cda.Config{Verifier: v, Algorithms: []signer.Algorithm{alg}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pki: p, checker: c}
}

// sign signs file by the signer of subject issued with tmpl edited.
func (f *fixture) signWith(t *testing.T, ca *gostx509.TestCA, subject gostx509.Subject, edit func(*gostx509.Template), file []byte, at time.Time) []byte {
	t.Helper()
	tmpl := gostx509.SigningTemplate(subject, created.AddDate(-1, 0, 0), created.AddDate(1, 0, 0))
	if edit != nil {
		edit(&tmpl)
	}
	key, cert, err := ca.IssueKey(context.Background(), f.pki.Alg, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	s, err := local.New(key, cert)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := semdtest.SignFile(context.Background(), s, file, at)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// codes lists a result's problems as code@field, sorted.
func codes(r cda.Result) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Code+"@"+p.Field)
	}
	sort.Strings(out)
	return out
}

// declared is the certificate block a MIS would declare for the signer of
// sig, taken from the certificate inside it.
func declared(t *testing.T, sig []byte) *topics.Certificate {
	t.Helper()
	sd, err := cms.Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	c := sd.Signer
	return &topics.Certificate{Serial: fmt.Sprintf("%x", c.SerialNumber),
		NotBefore: topics.DateTime(c.NotBefore.Format(time.RFC3339)), NotAfter: topics.DateTime(c.NotAfter.Format(time.RFC3339))}
}

// input is what Check is given; each case edits a good one. sigs go to
// the signers in order (a signer past the end has none).
type input struct {
	ev   topics.DocumentEvent
	file []byte
	sigs [][]byte
	at   time.Time
}

// check runs c on in.
func (in input) check(ctx context.Context, c *cda.Checker) cda.Result {
	ev := in.ev
	ev.Signers = append([]topics.Signer(nil), in.ev.Signers...)
	for i := range ev.Signers {
		ev.Signers[i].Signature = nil
		if i < len(in.sigs) {
			ev.Signers[i].Signature = in.sigs[i]
		}
	}
	return c.Check(ctx, &ev, in.file, in.at)
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, signer.GOST2012_256)
	doctorSubject, err := semdtest.PersonSubject(*doctor())
	if err != nil {
		t.Fatal(err)
	}
	signedAt := created.Add(2 * time.Minute)
	otherCA, err := gostx509.NewTestCA(ctx, signer.GOST2012_256, gostx509.Subject{CommonName: "Not accredited"}, created.AddDate(-2, 0, 0), created.AddDate(2, 0, 0), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rebuild := func(in *input, edit func(*cda.Header)) {
		h, err := cda.HeaderFor(in.ev)
		if err != nil {
			t.Fatal(err)
		}
		edit(&h)
		if in.file, err = cda.Build(h); err != nil {
			t.Fatal(err)
		}
		doc, err := f.pki.Sign(ctx, in.ev, in.file)
		if err != nil {
			t.Fatal(err)
		}
		in.sigs = doc.Signatures
	}
	resign := func(in *input) {
		doc, err := f.pki.Sign(ctx, in.ev, in.file)
		if err != nil {
			t.Fatal(err)
		}
		in.sigs = doc.Signatures
	}
	for _, tc := range []struct {
		name      string
		edit      func(*input)
		want      []string
		unmapped  bool
		unchecked bool // the request's kind is not in the table
	}{
		{name: "good document", edit: func(*input) {}},
		{name: "good document with the head as legal authenticator", edit: func(in *input) {
			in.ev.Signers = append(in.ev.Signers, topics.Signer{Role: "head", SignedAt: in.ev.Signers[0].SignedAt,
				Person: &topics.Person{SNILS: "087-654-303 00", FamilyName: "Сидорова", GivenName: "Анна", PostCode: "7"}})
			rebuild(in, func(*cda.Header) {})
		}},
		{name: "kind the table does not map: code and template not checked", unmapped: true, edit: func(in *input) {
			in.ev.Kind = "34"
			rebuild(in, func(*cda.Header) {})
		}},

		// The header against the request.
		{name: "CDA of another kind", edit: func(in *input) { in.ev.Kind = "141" },
			want: []string{"DOCUMENT_KIND_MISMATCH@kind", "DOCUMENT_KIND_MISMATCH@kind"}},
		{name: "code from the 1520 system", edit: func(in *input) { rebuild(in, func(h *cda.Header) { h.Code = "148" }) },
			want: []string{"DOCUMENT_KIND_MISMATCH@kind"}},
		{name: "patient's СНИЛС", edit: func(in *input) { in.ev.Patient.SNILS = "123-456-789 64" },
			want: []string{"DOCUMENT_HEADER_MISMATCH@patient.snils"}},
		{name: "patient's MIS id", edit: func(in *input) { in.ev.Patient.LocalID = "P-9" },
			want: []string{"DOCUMENT_HEADER_MISMATCH@patient.local_id"}},
		{name: "patient's names and birth date", edit: func(in *input) {
			in.ev.Patient.FamilyName, in.ev.Patient.Patronymic, in.ev.Patient.BirthDate = "Иванов", "", "1985-03-22"
		}, want: []string{"DOCUMENT_HEADER_MISMATCH@patient.birth_date", "DOCUMENT_HEADER_MISMATCH@patient.family_name", "DOCUMENT_HEADER_MISMATCH@patient.patronymic"}},
		{name: "names compare as the catalog normalizes them (case, ё)", edit: func(in *input) { in.ev.Patient.FamilyName = "ИВАНОВА" }},
		{name: "document id, set id, version", edit: func(in *input) {
			in.ev.DocumentID.Extension, in.ev.SetID.Extension, in.ev.Version = "DOC-2", "SET-2", 2
		}, want: []string{"DOCUMENT_HEADER_MISMATCH@document_id", "DOCUMENT_HEADER_MISMATCH@set_id", "DOCUMENT_HEADER_MISMATCH@version"}},
		{name: "setId equal to id, roots of the wrong kinds", edit: func(in *input) {
			rebuild(in, func(h *cda.Header) { h.SetID = h.ID; h.Patient.ID.Root = h.CustodianOID + ".100.1.1.70" })
			in.ev.SetID = in.ev.DocumentID
		}, want: []string{"DOCUMENT_ID_EQUALS_SET_ID@file", "XML_VALIDATION_ERROR@file", "XML_VALIDATION_ERROR@file"}},
		{name: "effectiveTime is not created_at", edit: func(in *input) {
			in.ev.CreatedAt = topics.DateTime(created.Add(-time.Hour).Format(time.RFC3339))
		}, want: []string{"DOCUMENT_HEADER_MISMATCH@created_at"}},
		{name: "created_at in another offset, same moment", edit: func(in *input) {
			in.ev.CreatedAt = topics.DateTime(created.UTC().Format(time.RFC3339))
		}},
		{name: "custodian is another organization", edit: func(in *input) { rebuild(in, func(h *cda.Header) { h.CustodianOID += "0" }) },
			want: []string{"DOCUMENT_HEADER_MISMATCH@mo_oid"}},
		{name: "doctor not among the authors", edit: func(in *input) {
			rebuild(in, func(h *cda.Header) {
				h.Authors[0].SNILS = "08765430300"
				h.LegalAuthenticator = &h.Authors[0]
			})
		}, want: []string{"INVALID_DOCTOR_SNILS@signers[0].person.snils", "LEGAL_AUTHENTICATOR_NOT_FOUND@signers"}},
		{name: "author's names, position and id", edit: func(in *input) {
			rebuild(in, func(h *cda.Header) {
				h.Authors[0].Name = cda.Name{Family: "Петрова", Given: "Алина", Patronymic: "Сергеевна"}
				h.Authors[0].PostCode, h.Authors[0].ID.Root = "7", h.CustodianOID
				h.LegalAuthenticator = &h.Authors[0]
			})
		}, want: []string{"INVALID_DOCTOR_FAMILY@signers[0].person.family_name", "INVALID_DOCTOR_ID@signers[0].person",
			"INVALID_DOCTOR_NAME@signers[0].person.given_name", "INVALID_DOCTOR_PATRONYMIC@signers[0].person.patronymic", "INVALID_DOCTOR_POST@signers[0].person.post_code"}},
		{name: "legal authenticator did not sign", edit: func(in *input) {
			rebuild(in, func(h *cda.Header) {
				la := h.Authors[0]
				la.SNILS = "08765430300"
				h.LegalAuthenticator = &la
			})
		}, want: []string{"LEGAL_AUTHENTICATOR_NOT_FOUND@signers"}},
		{name: "no legal authenticator", edit: func(in *input) { rebuild(in, func(h *cda.Header) { h.LegalAuthenticator = nil }) },
			want: []string{"LEGAL_AUTHENTICATOR_NOT_FOUND@signers"}},

		// Bad files: the signatures over them are still checked.
		{name: "not XML", edit: func(in *input) { in.file = []byte("%PDF-1.7"); resign(in) },
			want: []string{"DOCUMENT_NOT_XML@file"}},
		{name: "external entity", edit: func(in *input) {
			in.file = []byte(`<!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "http://127.0.0.1:9/">]><ClinicalDocument xmlns="urn:hl7-org:v3">&x;</ClinicalDocument>`)
			resign(in)
		}, want: []string{"DOCUMENT_DTD_FORBIDDEN@file"}},
		{name: "elements nested deeper than a СЭМД needs", edit: func(in *input) {
			in.file = []byte(strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300))
			resign(in)
		}, want: []string{"DOCUMENT_TOO_LARGE@file"}},
		{name: "XML that is no CDA", edit: func(in *input) { in.file = []byte(`<Envelope/>`); resign(in) },
			want: []string{"XML_VALIDATION_ERROR@file"}},

		// The signatures.
		{name: "signature missing", edit: func(in *input) { in.sigs[1] = nil }, want: []string{"NO_SIGNATURE@signers[1].signature"}},
		{name: "fewer signatures than signers", edit: func(in *input) { in.sigs = in.sigs[:1] }, want: []string{"NO_SIGNATURE@signers[1].signature"}},
		{name: "signature not CMS", edit: func(in *input) { in.sigs[0] = []byte("-----BEGIN PKCS7-----") },
			want: []string{"WRONG_SIGNATURE_FORMAT@signers[0].signature"}},
		{name: "signature value altered", edit: func(in *input) {
			// The SignerInfo's signature is the container's last field.
			in.sigs[0] = append([]byte(nil), in.sigs[0]...)
			in.sigs[0][len(in.sigs[0])-1] ^= 1
		}, want: []string{"SIGNATURE_VERIFICATION_ERROR@signers[0].signature"}},
		{name: "signature over another file", edit: func(in *input) {
			other := append([]byte(nil), in.file...)
			other[len(other)-3] ^= 1
			in.sigs[0] = f.signWith(t, f.pki.CA, doctorSubject, nil, other, signedAt)
		}, want: []string{"INCONSISTENT_DIGESTS@signers", "SIGNATURE_DIGEST_MISMATCH@signers[0].signature"}},
		{name: "file changed after signing", edit: func(in *input) { in.file = append(in.file, '\n') },
			want: []string{"SIGNATURE_DIGEST_MISMATCH@signers[0].signature", "SIGNATURE_DIGEST_MISMATCH@signers[1].signature"}},
		{name: "signatures swapped", edit: func(in *input) { in.sigs[0], in.sigs[1] = in.sigs[1], in.sigs[0] },
			want: []string{"SIGNATURE_ORGANIZATION_CERT@signers[0].signature", "SIGNATURE_TIME_INVALID@signers[0].signed_at",
				"SIGNATURE_TIME_INVALID@signers[1].signed_at", "VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[1].signature"}},
		{name: "signed after the request", edit: func(in *input) { in.at = signedAt.Add(-time.Hour) },
			want: []string{"SIGNATURE_TIME_INVALID@signers[0].signature", "SIGNATURE_TIME_INVALID@signers[1].signature"}},
		{name: "signed within the clock skew of the request", edit: func(in *input) { in.at = created.Add(4 * time.Minute) }},
		{name: "declared signed_at is not the signingTime", edit: func(in *input) {
			in.ev.Signers[0].SignedAt = topics.DateTime(signedAt.Add(10 * time.Minute).Format(time.RFC3339))
		}, want: []string{"SIGNATURE_TIME_INVALID@signers[0].signed_at"}},
		{name: "declared certificate agrees with the signature's", edit: func(in *input) {
			in.ev.Signers[0].Certificate = declared(t, in.sigs[0])
			in.ev.Signers[0].Certificate.Serial = "00" + strings.ToUpper(in.ev.Signers[0].Certificate.Serial)
		}},
		{name: "declared certificate is another", edit: func(in *input) {
			d := declared(t, in.sigs[0])
			d.Serial, d.NotAfter = "0abc", topics.DateTime(created.AddDate(5, 0, 0).Format(time.RFC3339))
			in.ev.Signers[0].Certificate = d
		}, want: []string{"VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[0].certificate.not_after", "VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[0].certificate.serial"}},
		{name: "certificate expired before signing", edit: func(in *input) {
			in.sigs[0] = f.signWith(t, f.pki.CA, doctorSubject, func(tm *gostx509.Template) { tm.NotAfter = signedAt.Add(-time.Hour) }, in.file, signedAt)
		}, want: []string{"CERTIFICATE_EXPIRED@signers[0].signature"}},
		{name: "certificate not yet valid", edit: func(in *input) {
			in.sigs[0] = f.signWith(t, f.pki.CA, doctorSubject, func(tm *gostx509.Template) { tm.NotBefore = signedAt.Add(time.Hour) }, in.file, signedAt)
		}, want: []string{"CERTIFICATE_EXPIRED@signers[0].signature"}},
		{name: "certificate of a CA not trusted", edit: func(in *input) {
			in.sigs[0] = f.signWith(t, otherCA, doctorSubject, nil, in.file, signedAt)
		}, want: []string{"CANT_BUILD_CERT_CHAIN_TO_ACCREDITED_CA_CERT@signers[0].signature"}},
		{name: "certificate for key encipherment only", edit: func(in *input) {
			in.sigs[0] = f.signWith(t, f.pki.CA, doctorSubject, func(tm *gostx509.Template) { tm.KeyUsage = x509.KeyUsageKeyEncipherment }, in.file, signedAt)
		}, want: []string{"INVALID_CERT_KEY_USAGE@signers[0].signature"}},
		{name: "doctor signed with the organization's certificate", edit: func(in *input) {
			in.sigs[0] = f.signWith(t, f.pki.CA, semdtest.OrganizationSubject(in.ev.MOOID), nil, in.file, signedAt)
		}, want: []string{"SIGNATURE_ORGANIZATION_CERT@signers[0].signature"}},
		{name: "doctor signed with another person's certificate", edit: func(in *input) {
			other := doctorSubject
			other.SNILS, other.Surname = "08765430300", "Сидоров"
			in.sigs[0] = f.signWith(t, f.pki.CA, other, nil, in.file, signedAt)
		}, want: []string{"VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[0].person.family_name", "VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[0].person.snils"}},
		{name: "organization sealed with a personal certificate", edit: func(in *input) {
			in.sigs[1] = f.signWith(t, f.pki.CA, doctorSubject, nil, in.file, created.Add(5*time.Minute))
		}, want: []string{"VALUE_MISMATCH_METADATA_AND_CERTIFICATE@signers[1].signature"}},
		{name: "algorithm not accepted", edit: func(in *input) {
			ec, err := semdtest.NewPKI(ctx, signer.ECDSAP256SHA256, created)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ec.Signer(ctx, doctorSubject)
			if err != nil {
				t.Fatal(err)
			}
			if in.sigs[0], err = semdtest.SignFile(ctx, s, in.file, signedAt); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"UNKNOWN_ALGORITHM@signers[0].signature"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := f.pki.Make(ctx, event())
			if err != nil {
				t.Fatal(err)
			}
			in := input{ev: doc.Event, file: doc.File, sigs: doc.Signatures, at: requestAt}
			tc.edit(&in)
			res := in.check(ctx, f.checker)
			got, want := codes(res), append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("problems\n got %v\nwant %v\n%v", got, want, res.Problems)
			}
			if res.KindMapped == tc.unmapped {
				t.Errorf("KindMapped %v", res.KindMapped)
			}
			for _, r := range res.Reasons(reasons.Default()) {
				if r.Code == reasons.RegistryUnknownCode || r.MessageRU == "" {
					t.Errorf("reason %+v not in the catalog", r)
				}
			}
		})
	}
}

// CheckDocument gives the normalize stage the contract's reasons, each
// with its field, resolved through the catalog.
func TestCheckDocumentReasons(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, signer.GOST2012_256)
	doc, err := f.pki.Make(ctx, event())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.checker.CheckDocument(ctx, &doc.Event, doc.File, requestAt); err != nil || len(got) != 0 {
		t.Fatalf("good document: %v, %v", got, err)
	}
	doc.Event.Patient.BirthDate = "1990-01-01"
	doc.Event.Signers[1].Signature = nil
	got, err := f.checker.CheckDocument(ctx, &doc.Event, doc.File, requestAt)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]topics.Reason{
		"patient.birth_date":   {Code: "DOCUMENT_HEADER_MISMATCH", Owner: "mis"},
		"signers[1].signature": {Code: "NO_SIGNATURE", Owner: "clinic"},
	}
	if len(got) != len(want) {
		t.Fatalf("reasons %v", got)
	}
	for _, r := range got {
		w, ok := want[r.Field]
		if !ok || r.Code != w.Code || r.Owner != w.Owner || r.Retryable || r.MessageRU == "" || r.MessageEN == "" {
			t.Errorf("reason %+v, want %+v at %s", r, w, r.Field)
		}
	}
}

// A check the context ends is incomplete, never a rejection.
func TestCheckCancelled(t *testing.T) {
	f := newFixture(t, signer.GOST2012_256)
	doc, err := f.pki.Make(context.Background(), event())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := f.checker.Check(ctx, &doc.Event, doc.File, requestAt)
	if !errors.Is(res.Err, context.Canceled) || len(res.Problems) != 0 {
		t.Errorf("cancelled check: err %v, problems %v", res.Err, res.Problems)
	}
	if _, err := f.checker.CheckDocument(ctx, &doc.Event, doc.File, requestAt); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckDocument: %v", err)
	}
}
