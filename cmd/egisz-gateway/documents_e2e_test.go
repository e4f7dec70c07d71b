package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// signedDocument is the docs' example document, numbered n, signed under
// pki (no declared certificates: the signatures carry them).
func signedDocument(t *testing.T, pki *semdtest.PKI, n int) topics.DocumentEvent {
	t.Helper()
	var ev topics.DocumentEvent
	if err := json.Unmarshal(topics.Example("document.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.LocalUID = fmt.Sprintf("2b1c6a0e-6f0d-4c43-9d0f-%012d", n)
	ev.DocumentID.Extension = fmt.Sprintf("DOC-%d-1", n)
	ev.SetID.Extension = fmt.Sprintf("SET-%d", n)
	for i := range ev.Signers {
		ev.Signers[i].Certificate = nil
	}
	doc, err := pki.Make(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Event
}

func documentRecord(t *testing.T, prefix string, ev topics.DocumentEvent, ceID string) *kgo.Record {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: prefix + topics.RMISDocument, Key: []byte(ev.Patient.SNILS), Value: b, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.document.v1")},
	}}
}

// withFile gives ev another file, inline, with its size and digest.
func withFile(ev topics.DocumentEvent, file []byte) topics.DocumentEvent {
	s := sha256.Sum256(file)
	ev.File = topics.Attachment{MediaType: semdtest.MediaType, Data: file, Size: int64(len(file)), SHA256: hex.EncodeToString(s[:])}
	return ev
}

// TestNormalizeDocumentsSignedBatch runs the gateway binary with trust
// roots over one batch of good and bad signed documents: each bad one is
// rejected with its reason, and every good one is accepted and forwarded
// to РЭМД. Nothing else in the batch is lost.
func TestNormalizeDocumentsSignedBatch(t *testing.T) {
	kc, ctx, cl := prepareCluster(t)
	pki, err := semdtest.NewPKI(ctx, signer.GOST2012_256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := semdtest.NewPKI(ctx, signer.GOST2012_256, time.Now()) // a CA the gateway does not trust
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.CA.Certificate.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	// ФРМР lists the doctor with the certificate the test CA issued.
	first := signedDocument(t, pki, 0)
	sd, err := cms.Parse(first.Signers[0].Signature)
	if err != nil {
		t.Fatal(err)
	}
	var emp topics.Employee
	if err := json.Unmarshal(topics.Example("employee.json"), &emp); err != nil {
		t.Fatal(err)
	}
	emp.Certificates = []topics.Certificate{{Serial: fmt.Sprintf("%x", sd.Signer.SerialNumber),
		NotBefore: topics.DateTime(sd.Signer.NotBefore.Format(time.RFC3339)), NotAfter: topics.DateTime(sd.Signer.NotAfter.Format(time.RFC3339))}}
	empValue, _ := json.Marshal(emp)
	produceAll(t, ctx, cl, []*kgo.Record{{Topic: kc.Prefix + topics.FRMREmployee, Key: []byte("12345678964"), Value: empValue}})

	type want struct {
		outcome string
		code    string // a reason the rejection must carry
	}
	var records []*kgo.Record
	wants := map[string]want{}
	add := func(ev topics.DocumentEvent, ceID string, w want) {
		records = append(records, documentRecord(t, kc.Prefix, ev, ceID))
		wants[ceID] = w
	}
	n := 1
	next := func() topics.DocumentEvent { n++; return signedDocument(t, pki, n) }
	for i := 0; i < 3; i++ {
		add(next(), fmt.Sprintf("good-%d", i), want{outcome: "accepted"})
	}
	other := next()
	add(withFile(next(), other.File.Data), "over-another-file", want{"rejected", reasons.SignatureDigestMismatch})
	add(next(), fmt.Sprintf("good-%d", 3), want{outcome: "accepted"})
	add(signedDocument(t, stranger, 100), "untrusted", want{"rejected", reasons.CertificateUntrusted})
	add(withFile(next(), []byte("this is not XML")), "not-xml", want{"rejected", reasons.DocumentNotXML})
	dtd := []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ClinicalDocument>&e;</ClinicalDocument>`)
	add(withFile(next(), dtd), "dtd", want{"rejected", reasons.DocumentDTDForbidden})
	byRef := next()
	byRef.File = topics.Attachment{MediaType: semdtest.MediaType, Ref: "https://127.0.0.1:1/semd/1.xml", Size: byRef.File.Size, SHA256: byRef.File.SHA256}
	add(byRef, "unreachable-ref", want{"rejected", reasons.DocumentFetchFailed})
	add(next(), fmt.Sprintf("good-%d", 4), want{outcome: "accepted"})

	startGateway(t, kc, "docs-1", "EGISZ_NORMALIZE_DOCUMENTS_TRUST_ROOTS="+roots)
	produceAll(t, ctx, cl, records)

	statuses := readAll(t, ctx, kc, kc.Prefix+topics.StatusTopic, len(records))
	got := map[string][]topics.Status{}
	for _, r := range statuses {
		var st topics.Status
		if err := json.Unmarshal(r.Value, &st); err != nil {
			t.Fatal(err)
		}
		if st.Registry == "" {
			got[st.CEID] = append(got[st.CEID], st)
		}
	}
	for ceID, w := range wants {
		sts := got[ceID]
		if len(sts) != 1 {
			t.Errorf("%s: %d statuses, want one %s", ceID, len(sts), w.outcome)
			continue
		}
		st := sts[0]
		if st.Outcome != w.outcome {
			t.Errorf("%s: %s %+v, want %s", ceID, st.Outcome, st.Reasons, w.outcome)
			continue
		}
		found := w.code == ""
		for _, r := range st.Reasons {
			found = found || r.Code == w.code
			// The status goes to the MIS and operators: no document
			// contents, no personal data in the reasons' texts.
			for _, leak := range []string{"Иванова", "11223344595", "Тестовый документ", "/etc/passwd"} {
				if bytes.Contains([]byte(r.MessageEN+r.MessageRU), []byte(leak)) {
					t.Errorf("%s: reason %s says %q", ceID, r.Code, leak)
				}
			}
		}
		if !found {
			t.Errorf("%s: reasons %+v, want %s among them", ceID, st.Reasons, w.code)
		}
	}
	out := readAll(t, ctx, kc, kc.Prefix+topics.Outbound(topics.RegistryREMD), 5)
	if len(out) != 5 {
		t.Errorf("%d documents forwarded to РЭМД, want the 5 good ones", len(out))
	}

	// The good documents' two certificates (the doctor's, the
	// organization's) are published once each, not once per document;
	// the untrusted CA's, from a refused document, not at all.
	seen := readAll(t, ctx, kc, kc.Prefix+topics.CertificateSeen, 2)
	roles := map[string]string{}
	for _, r := range seen {
		var c topics.SeenCertificate
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != c.SHA256+"|"+c.MOOID || c.MOOID != first.MOOID {
			t.Errorf("seen certificate keyed %s for %s", r.Key, c.MOOID)
		}
		if bytes.Contains(r.Value, []byte("Петров")) || bytes.Contains(r.Value, []byte("12345678964")) {
			t.Errorf("seen certificate %s names its holder: %s", c.Serial, r.Value)
		}
		roles[c.Role] = strings.TrimLeft(c.Serial, "0") // hex of the serial's bytes: "02"
	}
	if len(seen) != 2 || roles["doctor"] != fmt.Sprintf("%x", sd.Signer.SerialNumber) || roles["organization"] == "" {
		t.Errorf("%d certificates seen (%v), want the doctor's %x and the organization's once each", len(seen), roles, sd.Signer.SerialNumber)
	}
}
