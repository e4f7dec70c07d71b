package remd

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/internal/cryptotest"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The adapter's fixed configuration in these tests.
const (
	testClientEntityID = "5d4f9a3e-2c1b-4e8f-9a7d-6b0c1e2f3a4b"
	testTo             = "https://ips-test.rosminzdrav.ru:8080/remd-service"
	testCallback       = "https://gateway.example.ru/emdr/callback"
	testCEID           = "ce-0001"
)

// t0 is the tests' clock: inside the test PKI's validity.
var t0 = time.Date(2026, 3, 21, 10, 0, 0, 0, time.UTC)

// documentEvent is a document with every field the request carries: two
// personal signers (one without patronymic or specialty) and the
// organisation.
func documentEvent() topics.DocumentEvent {
	return topics.DocumentEvent{
		Kind: "148", LocalUID: "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11",
		DocumentID: topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.51", Extension: "DOC-731-1"},
		SetID:      topics.ID{Root: "1.2.643.5.1.13.13.12.1.42.202.100.1.1.50", Extension: "SET-731"},
		Version:    1, Number: "2026-000731", CreatedAt: "2026-03-20T15:00:00+03:00", MOOID: "1.2.643.5.1.13.13.12.1.42.202",
		DepartmentOID: "1.2.643.5.1.13.13.12.2.42.4977.0.2787.2107",
		Patient:       topics.Patient{SNILS: "11223344595", LocalID: "P-000123", FamilyName: "Иванова", GivenName: "Мария", Patronymic: "Петровна", BirthDate: "1985-03-21", Sex: "female"},
		Signers: []topics.Signer{
			{Role: "doctor", Person: &topics.Person{SNILS: "123-456-789 64", FamilyName: "Петров", GivenName: "Алексей", Patronymic: "Сергеевич", PostCode: "109", SpecialtyCode: "27"}, SignedAt: "2026-03-20T15:02:00+03:00"},
			{Role: "head", Person: &topics.Person{SNILS: ident.MakeSNILS(734_512_099), FamilyName: "Сидоров", GivenName: "Иван", PostCode: "7"}, SignedAt: "2026-03-20T15:04:00+03:00"},
			{Role: "organization", SignedAt: "2026-03-20T15:05:00+03:00"},
		},
	}
}

// gostPKI is one ГОСТ test PKI for the package's tests: making its keys is
// the slow part.
var gostPKI = sync.OnceValues(func() (*semdtest.PKI, error) {
	return semdtest.NewPKI(context.Background(), signer.GOST2012_256, t0)
})

// signedDocument is documentEvent signed under the test PKI, with its CDA.
func signedDocument(t testing.TB) semdtest.Document {
	t.Helper()
	p, err := gostPKI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := p.Make(context.Background(), documentEvent())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// gostSigner is the information system's signer: a ГОСТ certificate of
// the organisation.
func gostSigner(t testing.TB) signer.Signer {
	t.Helper()
	p, err := gostPKI()
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Signer(context.Background(), semdtest.OrganizationSubject("1.2.643.5.1.13.13.12.1.42.202"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ecdsaSigner is a P-256 signer with a self-signed certificate, written to
// a PEM file for xmlsec1, which knows no ГОСТ.
func ecdsaSigner(t testing.TB) (signer.Signer, string) {
	t.Helper()
	s := cryptotest.NewECDSASigner(t, "remd test", false)
	_, certFile := s.WritePEM(t, t.TempDir())
	return s, certFile
}

// trustOnly trusts exactly cert.
func trustOnly(cert *x509.Certificate) func(*x509.Certificate) error {
	return func(c *x509.Certificate) error {
		if c.Equal(cert) {
			return nil
		}
		return errors.New("not the test certificate")
	}
}

// newAdapter is the adapter over s in version v, its clock at t0.
func newAdapter(t testing.TB, s signer.Signer, v wssec.Version) *Adapter {
	t.Helper()
	in, err := NewInbox(InboxConfig{Trust: trustOnly(s.Certificate()), Signer: s, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{ClientEntityID: testClientEntityID, To: testTo, Signer: s, Version: v, Inbox: in, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// outbound is the outbound record's value of an event of kind.
func outbound(t testing.TB, kind string, ev any) []byte {
	t.Helper()
	b, err := json.Marshal(topics.OutboundEvent{Kind: kind, PatientKey: "11223344595", DedupKey: "11223344595|" + kind + "|x", Version: 1,
		Source: "1.2.643.5.1.13.13.12.1.42.202", ReceivedAt: "2026-03-20T15:10:00+03:00", Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// build is the call a makes of an event of kind.
func build(t testing.TB, a *Adapter, kind string, ev any) seam.Call {
	t.Helper()
	call, err := a.Build(outbound(t, kind, ev), testCEID, testCallback)
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// buildRequest is that call and the request its body holds.
func buildRequest(t testing.TB, a *Adapter, kind string, ev any) (seam.Call, RegisterDocumentRequest) {
	t.Helper()
	call := build(t, a, kind, ev)
	var req RegisterDocumentRequest
	if err := xml.Unmarshal(call.Body, &req); err != nil {
		t.Fatalf("the body is not the request: %v", err)
	}
	return call, req
}

// sign is call as a signs it.
func sign(t testing.TB, a *Adapter, call seam.Call) seam.Call {
	t.Helper()
	signed, err := a.Sign(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}
