package docevent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

const cda = `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.643.5.1.13.13.12.1.42.202.100.1.1.51" extension="DOC-731-1"/></ClinicalDocument>
`

var signedAt = time.Date(2026, 3, 20, 12, 2, 0, 0, time.UTC)

func sign(t *testing.T, s *local.Signer, file []byte) []byte {
	t.Helper()
	der, err := cms.Sign(context.Background(), s, bytes.NewReader(file), cms.SignOptions{SigningTime: signedAt})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func meta() topics.DocumentEvent {
	return topics.DocumentEvent{Kind: "34", LocalUID: "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11",
		Signers: []topics.Signer{{Role: "doctor", Person: &topics.Person{SNILS: "12345678964"}, SignedAt: "2026-01-01T00:00:00+03:00",
			Certificate: &topics.Certificate{Serial: "ff", Issuer: "Казначейство России"}}}}
}

func TestAttach(t *testing.T) {
	pki, err := testpki.Load()
	if err != nil {
		t.Fatal(err)
	}
	file := []byte(cda)
	doctor, org := sign(t, pki.Doctor, file), sign(t, pki.Organization, file)
	other := sign(t, pki.Doctor, append([]byte(cda), ' '))
	sum := sha256.Sum256(file)

	t.Run("inline, the organization added from its signature", func(t *testing.T) {
		ev := meta()
		if err := Attach(&ev, file, []Signature{{"doctor", doctor}, {"organization", org}}, Options{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ev.File.Data, file) || ev.File.Ref != "" || ev.File.Size != int64(len(file)) || ev.File.SHA256 != hex.EncodeToString(sum[:]) || ev.File.MediaType != "text/xml" {
			t.Errorf("file %+v", ev.File)
		}
		if len(ev.Signers) != 2 || !bytes.Equal(ev.Signers[0].Signature, doctor) || ev.Signers[1].Role != "organization" || !bytes.Equal(ev.Signers[1].Signature, org) {
			t.Fatalf("signers %+v", ev.Signers)
		}
		if ev.Signers[0].SignedAt != "2026-03-20T15:02:00+03:00" || ev.Signers[1].SignedAt != "2026-03-20T15:02:00+03:00" {
			t.Errorf("signed_at %q %q, want the signatures' signingTime in Moscow time", ev.Signers[0].SignedAt, ev.Signers[1].SignedAt)
		}
		// The declared certificate is the one in the signature; none is
		// added where the metadata declares none.
		c := pki.Doctor.Certificate()
		if d := ev.Signers[0].Certificate; d == nil || d.Serial != "01d7a3f25c9b8e4000000000000000aa" || d.Issuer != c.Issuer.CommonName ||
			d.NotBefore != "2026-01-10T00:00:00+03:00" || d.NotAfter != "2036-04-10T00:00:00+03:00" {
			t.Errorf("declared certificate %+v", d)
		}
		if ev.Signers[1].Certificate != nil {
			t.Error("a certificate block was added to a signer that declared none")
		}
	})
	t.Run("by reference above the inline limit", func(t *testing.T) {
		ev := meta()
		ref := "https://mis.example.ru/semd/2b1c6a0e.xml"
		if err := Attach(&ev, file, []Signature{{"doctor", doctor}}, Options{Ref: ref, InlineLimit: 10}); err != nil {
			t.Fatal(err)
		}
		if ev.File.Data != nil || ev.File.Ref != ref || ev.File.Size != int64(len(file)) || ev.File.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("file %+v", ev.File)
		}
	})

	bad := []struct {
		name string
		file string
		sigs []Signature
		opt  Options
		want string
	}{
		{"empty file", "", []Signature{{"doctor", doctor}}, Options{}, "empty"},
		{"not XML", "%PDF-1.7 ...", []Signature{{"doctor", doctor}}, Options{}, "text outside its root element"},
		{"unclosed XML", "<ClinicalDocument>", []Signature{{"doctor", doctor}}, Options{}, "not well-formed XML"},
		{"two roots", "<a/><b/>", []Signature{{"doctor", doctor}}, Options{}, "2 root elements"},
		{"a DTD", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`, []Signature{{"doctor", doctor}}, Options{}, "document type declaration"},
		{"above the inline limit", cda, []Signature{{"doctor", doctor}}, Options{InlineLimit: 10}, "above the inline limit of 10"},
		{"a reference over http", cda, []Signature{{"doctor", doctor}}, Options{Ref: "http://mis.example.ru/x.xml"}, "https URL"},
		{"no signature", cda, nil, Options{}, "no signature"},
		{"a signature over another file", cda, []Signature{{"doctor", other}}, Options{}, "does not verify over this file"},
		{"not a signature", cda, []Signature{{"doctor", []byte("MAA=")}}, Options{}, "not a detached CMS SignedData"},
		{"an unknown role", cda, []Signature{{"doctor", doctor}, {"nurse", org}}, Options{}, `unknown signer role "nurse"`},
		{"a role twice", cda, []Signature{{"doctor", doctor}, {"doctor", doctor}}, Options{}, "two signatures of role doctor"},
		{"a listed signer unsigned", cda, []Signature{{"organization", org}}, Options{}, "doctor signer without a signature"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			ev := meta()
			err := Attach(&ev, []byte(tc.file), tc.sigs, tc.opt)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Attach: %v, want ErrBadInput containing %q", err, tc.want)
			}
		})
	}
}

// TestAttachOpenSSLSignature: a signature made by OpenSSL's ГОСТ engine, as
// a MIS without our code makes it, is attached.
func TestAttachOpenSSLSignature(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	for name, dst := range map[string]string{testpki.DoctorCertFile: "c.pem", testpki.DoctorKeyFile: "k.pem"} {
		b, err := testpki.File(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "d.xml"), []byte(cda), 0o600); err != nil {
		t.Fatal(err)
	}
	testtool.OpenSSL(t, dir, "cms", "-sign", "-engine", "gost", "-binary", "-outform", "DER", "-in", "d.xml",
		"-signer", "c.pem", "-inkey", "k.pem", "-md", "md_gost12_256", "-out", "d.sig")
	sig, err := os.ReadFile(filepath.Join(dir, "d.sig"))
	if err != nil {
		t.Fatal(err)
	}
	ev := meta()
	if err := Attach(&ev, []byte(cda), []Signature{{"doctor", sig}}, Options{}); err != nil {
		t.Fatal(err)
	}
	if ev.Signers[0].SignedAt == "" {
		t.Error("signed_at not taken from openssl's signingTime")
	}
}
