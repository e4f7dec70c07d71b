package testpki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/docevent"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The example document's files: the event is topics/examples/document.json
// (make docs copies it to docs/examples), the CDA and the signatures it
// carries are here and in docs/examples, for publishers to try
// `egisz-gateway document-event` and openssl on.
const (
	exampleEvent = "../../topics/examples/document.json"
	exampleDir   = "examples"
	exampleCDA   = "document.cda.xml"
	// exampleSize is about the size of a real СЭМД of this kind.
	exampleSize = 12 << 10
)

var exampleSigs = map[string]string{"doctor": "document.doctor.sig", "organization": "document.organization.sig"}

// TestRegenerateExampleDocument rewrites the example document event, its
// CDA and signatures when EGISZ_REGENERATE_EXAMPLES=1 (then run make docs):
// the CDA built from the event's metadata by adapters/cda, signed at the
// signers' signed_at by the committed doctor's and organization's keys.
func TestRegenerateExampleDocument(t *testing.T) {
	if os.Getenv("EGISZ_REGENERATE_EXAMPLES") != "1" {
		t.Skip("set EGISZ_REGENERATE_EXAMPLES=1 to sign the example document again")
	}
	pki, _ := loaded(t)
	ev := exampleDocument(t)
	ev.File = topics.Attachment{}
	signers := map[string]*local.Signer{"doctor": pki.Doctor, "organization": pki.Organization}
	var sigs []docevent.Signature
	for i := range ev.Signers {
		s := &ev.Signers[i]
		sg := signers[s.Role]
		if sg == nil {
			t.Fatalf("no committed key for role %s", s.Role)
		}
		c := sg.Certificate()
		s.Signature = nil
		s.Certificate = &topics.Certificate{
			Serial: "0" + c.SerialNumber.Text(16), Issuer: c.Issuer.CommonName,
			NotBefore: topics.DateTime(c.NotBefore.In(datetime.Moscow).Format("2006-01-02T15:04:05-07:00")),
			NotAfter:  topics.DateTime(c.NotAfter.In(datetime.Moscow).Format("2006-01-02T15:04:05-07:00")),
		}
	}
	file, err := semdtest.File(ev, exampleSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ev.Signers {
		at, err := datetime.ParseDateTime(string(s.SignedAt))
		if err != nil {
			t.Fatal(err)
		}
		der, err := semdtest.SignFile(context.Background(), signers[s.Role], file, at)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, docevent.Signature{Role: s.Role, DER: der})
		if err := os.WriteFile(filepath.Join(exampleDir, exampleSigs[s.Role]), der, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := docevent.Attach(&ev, file, sigs, docevent.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(exampleDir, exampleCDA), file, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exampleEvent, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExampleDocument: the example event carries the committed CDA inline
// and the committed signatures; each signature verifies over the file,
// was made by the committed doctor's or organization's certificate within
// its validity, and chains to the committed CA; the CDA's header is the
// one the event's metadata calls for; the docs publish the same files.
func TestExampleDocument(t *testing.T) {
	pki, _ := loaded(t)
	ev := exampleDocument(t)
	file, err := os.ReadFile(filepath.Join(exampleDir, exampleCDA))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.File.Data, file) || ev.File.Ref != "" {
		t.Fatal("document.json does not carry document.cda.xml inline")
	}
	if len(file) < 10<<10 || len(file) > 20<<10 {
		t.Errorf("the example CDA is %d bytes, want a realistic 10-20 KiB", len(file))
	}
	v, err := pki.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*x509.Certificate{"doctor": pki.Doctor.Certificate(), "organization": pki.Organization.Certificate()}
	if len(ev.Signers) != len(want) {
		t.Fatalf("%d signers, want %d", len(ev.Signers), len(want))
	}
	for _, s := range ev.Signers {
		committed, err := os.ReadFile(filepath.Join(exampleDir, exampleSigs[s.Role]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, s.Signature) {
			t.Errorf("%s: the event's signature is not %s", s.Role, exampleSigs[s.Role])
		}
		sd, err := cms.Parse(s.Signature)
		if err != nil {
			t.Fatalf("%s: %v", s.Role, err)
		}
		if err := sd.Verify(bytes.NewReader(file)); err != nil {
			t.Errorf("%s: does not verify over the CDA: %v", s.Role, err)
		}
		if !sd.Signer.Equal(want[s.Role]) {
			t.Errorf("%s: signed by another certificate than the committed one", s.Role)
		}
		if _, err := v.Verify(sd.Signer, gostx509.VerifyOptions{At: sd.SigningTime}); err != nil {
			t.Errorf("%s: chain at the signing time: %v", s.Role, err)
		}
		at, err := datetime.ParseDateTime(string(s.SignedAt))
		if err != nil || !at.Equal(sd.SigningTime) {
			t.Errorf("%s: signed_at %s, the signature's signingTime %s", s.Role, s.SignedAt, sd.SigningTime)
		}
	}
	// The CDA says what the event says.
	got, err := cda.Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader, err := cda.HeaderFor(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != wantHeader.ID || got.SetID != wantHeader.SetID || got.Version != wantHeader.Version ||
		got.Patient.SNILS != wantHeader.Patient.SNILS || got.CustodianOID != wantHeader.CustodianOID || got.Code != wantHeader.Code {
		t.Errorf("the CDA's header does not match the event's metadata")
	}
	for _, name := range append([]string{exampleCDA}, exampleSigs["doctor"], exampleSigs["organization"]) {
		src, err := os.ReadFile(filepath.Join(exampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", name))
		if err != nil || !bytes.Equal(src, pub) {
			t.Errorf("docs/examples/%s is stale or missing (%v): run `make docs`", name, err)
		}
	}
}

// exampleDocument is the committed example document event.
func exampleDocument(t *testing.T) topics.DocumentEvent {
	t.Helper()
	var ev topics.DocumentEvent
	if err := json.Unmarshal(topics.Example("document.json"), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}
