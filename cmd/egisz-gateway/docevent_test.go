package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestDocumentEventCommand: document-event prints the event of a CDA file
// and its signatures (inline, or by reference), on one line with
// --compact, and refuses bad input with exit code 2 and a message naming
// what is wrong.
func TestDocumentEventCommand(t *testing.T) {
	pki, err := testpki.Load()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path(name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cda := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Протокол</title></ClinicalDocument>`)
	write("doc.xml", cda)
	write("other.xml", append([]byte(" "), cda...))
	at := time.Date(2026, 3, 20, 12, 2, 0, 0, time.UTC)
	for _, s := range []struct {
		name, file string
		signer     *local.Signer
	}{{"doctor.sig", "doc.xml", pki.Doctor}, {"org.sig", "doc.xml", pki.Organization}, {"other.sig", "other.xml", pki.Doctor}} {
		content, err := os.ReadFile(path(s.file))
		if err != nil {
			t.Fatal(err)
		}
		der, err := cms.Sign(context.Background(), s.signer, bytes.NewReader(content), cms.SignOptions{SigningTime: at})
		if err != nil {
			t.Fatal(err)
		}
		write(s.name, der)
	}
	write("meta.json", []byte(`{"kind":"34","local_uid":"2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11","mo_oid":"1.2.643.5.1.13.13.12.1.42.202",
		"patient":{"snils":"11223344595"},"signers":[{"role":"doctor","person":{"snils":"123-456-789 64","family_name":"Петров"}}]}`))
	write("bad.json", []byte(`{"kind":`))

	runCmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"document-event"}, args...), &stdout, &stderr, noEnv)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := runCmd("--cda", path("doc.xml"), "--meta", path("meta.json"), "--sig", "doctor="+path("doctor.sig"), "--sig", "organization="+path("org.sig"), "--compact")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("--compact printed %d lines", strings.Count(out, "\n"))
	}
	var ev topics.DocumentEvent
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	doctorSig, _ := os.ReadFile(path("doctor.sig"))
	if !bytes.Equal(ev.File.Data, cda) || ev.File.Size != int64(len(cda)) || len(ev.Signers) != 2 ||
		!bytes.Equal(ev.Signers[0].Signature, doctorSig) || ev.Signers[1].Role != "organization" || ev.Patient.SNILS != "11223344595" {
		t.Errorf("event: %s", out)
	}
	if !strings.Contains(out, "Петров") {
		t.Error("names are escaped instead of written as UTF-8")
	}

	code, out, errOut = runCmd("--cda", path("doc.xml"), "--meta", path("meta.json"), "--sig", "doctor="+path("doctor.sig"), "--ref", "https://mis.example.ru/semd/1.xml")
	if code != exitOK {
		t.Fatalf("--ref: exit %d: %s", code, errOut)
	}
	ev = topics.DocumentEvent{}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.File.Data != nil || ev.File.Ref == "" || len(ev.File.SHA256) != 64 {
		t.Errorf("--ref: %v: %s", err, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no signature", []string{"--cda", path("doc.xml"), "--meta", path("meta.json")}, "at least one --sig"},
		{"a sig without a role", []string{"--cda", path("doc.xml"), "--meta", path("meta.json"), "--sig", path("doctor.sig")}, "want ROLE=FILE"},
		{"a missing file", []string{"--cda", path("nowhere.xml"), "--meta", path("meta.json"), "--sig", "doctor=" + path("doctor.sig")}, "read --cda"},
		{"bad metadata", []string{"--cda", path("doc.xml"), "--meta", path("bad.json"), "--sig", "doctor=" + path("doctor.sig")}, "is not a document event's JSON"},
		{"a signature over another file", []string{"--cda", path("doc.xml"), "--meta", path("meta.json"), "--sig", "doctor=" + path("other.sig")}, "the doctor signature does not verify over this file"},
		{"the CDA is the signature", []string{"--cda", path("doctor.sig"), "--meta", path("meta.json"), "--sig", "doctor=" + path("doctor.sig")}, "XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
}
