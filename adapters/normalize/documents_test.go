package normalize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/gateway/docfetch"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// documentCases are the signed example with its file inline or by
// reference, and what the decider must make of them. good is the signed
// file; other is another file that its signatures do not sign.
func documentCases(srvURL string, good, other []byte) []struct {
	name    string
	file    map[string]any
	noFetch bool     // the decider has no fetcher
	codes   []string // nil to accept; else the reasons, in any order
	retry   bool     // the reasons say a replay can help
} {
	inline := func(b []byte) map[string]any {
		return map[string]any{"media_type": "text/xml", "data": base64.StdEncoding.EncodeToString(b), "size": len(b), "sha256": sum(b)}
	}
	ref := func(path string, b []byte) map[string]any {
		return map[string]any{"media_type": "text/xml", "ref": srvURL + path, "size": len(b), "sha256": sum(b)}
	}
	return []struct {
		name    string
		file    map[string]any
		noFetch bool
		codes   []string
		retry   bool
	}{
		{name: "good inline", file: inline(good)},
		{name: "good by reference", file: ref("/good.xml", good)},
		{name: "signatures over another file", file: inline(other), codes: []string{reasons.SignatureDigestMismatch, reasons.SignatureDigestMismatch}},
		{name: "reference not found", file: ref("/missing.xml", good), codes: []string{reasons.DocumentFetchFailed}, retry: true},
		{name: "reference serves another file", file: ref("/other.xml", good), codes: []string{reasons.DocumentDigestMismatch}},
		{name: "reference larger than declared", file: ref("/good.xml", good[:len(good)-1]), codes: []string{reasons.DocumentTooLarge}},
		{name: "no fetcher for a reference", file: ref("/good.xml", good), noFetch: true, codes: []string{reasons.DocumentFetchFailed}, retry: true},
	}
}

// signedSetup is a test PKI, the example document signed under it, and
// reference data whose doctor holds the certificate that signed it.
func signedSetup(t *testing.T) (*semdtest.PKI, topics.DocumentEvent, refs) {
	t.Helper()
	pki, err := semdtest.NewPKI(context.Background(), signer.GOST2012_256, now)
	if err != nil {
		t.Fatal(err)
	}
	ev := signedExample(t, pki)
	sd, err := cms.Parse(ev.Signers[0].Signature)
	if err != nil {
		t.Fatal(err)
	}
	r := exampleRefs(t)
	emp := *r.employees["12345678964"]
	emp.Certificates = []topics.Certificate{{Serial: fmt.Sprintf("%x", sd.Signer.SerialNumber)}}
	r.employees["12345678964"] = &emp
	return pki, ev, r
}

func checkerOf(t *testing.T, pki *semdtest.PKI) *cda.Checker {
	t.Helper()
	v, err := pki.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cda.NewChecker(cda.Config{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func docInput(t testing.TB, ev topics.DocumentEvent, edit func(map[string]any)) Input {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	in := input(t, topics.RMISDocument, "document.json", nil)
	if in.Value, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestDocumentsFetchedAndChecked(t *testing.T) {
	pki, ev, refs := signedSetup(t)
	good := ev.File.Data
	other := bytes.Replace(good, []byte("Тестовый документ"), []byte("Другой документ!!"), 1)
	if bytes.Equal(other, good) {
		t.Fatal("the example's body changed: other is the same file")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/good.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(good) })
	mux.HandleFunc("/other.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(other) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	checker := checkerOf(t, pki)

	for _, tc := range documentCases(srv.URL, good, other) {
		t.Run(tc.name, func(t *testing.T) {
			docs := Documents{Checker: checker}
			if !tc.noFetch {
				docs.Fetcher = docfetch.New(docfetch.Config{Client: srv.Client(), Timeout: 5 * time.Second})
			}
			d := NewDecider(source.DefaultOptions(), refs).WithDocuments(docs)
			dec := d.Decide(docInput(t, ev, func(m map[string]any) { m["file"] = tc.file }), now)
			var got []string
			for _, r := range dec.Reasons {
				got = append(got, r.Code)
				if r.Retryable != tc.retry {
					t.Errorf("%s retryable=%v, want %v", r.Code, r.Retryable, tc.retry)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.codes)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("reasons %+v, want %v", dec.Reasons, want)
			}
			if len(want) == 0 && len(dec.Routes) == 0 {
				t.Fatal("accepted without routes")
			}
			// A fetched file goes on by its reference: the payload does
			// not grow by the file.
			if len(want) == 0 && tc.file["ref"] != nil && bytes.Contains(dec.Payload, []byte(base64.StdEncoding.EncodeToString(good))) {
				t.Error("the fetched file was put into the payload")
			}
		})
	}
}

// Without a checker the decider judges the event alone, as before
// documents travelled with their events.
func TestDocumentsUncheckedWithoutChecker(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	if dec := d.Decide(input(t, topics.RMISDocument, "document.json", nil), now); len(dec.Reasons) > 0 {
		t.Fatalf("rejected: %+v", dec.Reasons)
	}
}

func TestSameSerial(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"01d7a3f25c9b8e4000000000000000aa", "1D7A3F25C9B8E4000000000000000AA", true},
		{"01d7", "1d7", true},
		{"01d7", "1d8", false},
		{"", "0", true},
	} {
		if got := sameSerial(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSerial(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// signedExample is the docs' example document signed under pki: its CDA
// inline, a real signature per signer.
func signedExample(t *testing.T, pki *semdtest.PKI) topics.DocumentEvent {
	t.Helper()
	var ev topics.DocumentEvent
	if err := json.Unmarshal(topics.Example("document.json"), &ev); err != nil {
		t.Fatal(err)
	}
	for i := range ev.Signers {
		ev.Signers[i].Certificate = nil // the example's declares the committed test PKI's
	}
	doc, err := pki.Make(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Event
}

// ФРМР's list of a worker's certificates is compared with the certificate
// the worker signed with, not the one the event declares.
func TestFRMRCertificateIsTheSignaturesOwn(t *testing.T) {
	pki, ev, signedRefs := signedSetup(t)
	inSignature := signedRefs.employees["12345678964"].Certificates[0].Serial
	doctor := exampleRefs(t).employees["12345678964"]
	declared := doctor.Certificates[0]
	checker := checkerOf(t, pki)
	for _, tc := range []struct {
		name     string
		frmr     []topics.Certificate
		declared *topics.Certificate
		code     string
	}{
		{"ФРМР lists the signature's certificate", []topics.Certificate{{Serial: "00" + strings.ToUpper(inSignature)}}, nil, ""},
		{"ФРМР lists only the declared one", []topics.Certificate{declared}, nil, reasons.CertNotInFRMR},
		{"ФРМР lists none", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emp := *doctor
			emp.Certificates = tc.frmr
			refs := exampleRefs(t)
			refs.employees["12345678964"] = &emp
			e := ev
			e.Signers = append([]topics.Signer(nil), ev.Signers...)
			e.Signers[0].Certificate = tc.declared
			dec := NewDecider(source.DefaultOptions(), refs).WithDocuments(Documents{Checker: checker}).Decide(docInput(t, e, nil), now)
			switch {
			case tc.code == "" && len(dec.Reasons) > 0:
				t.Fatalf("rejected: %+v", dec.Reasons)
			case tc.code != "" && (len(dec.Reasons) != 1 || dec.Reasons[0].Code != tc.code || dec.Reasons[0].Field != "signers[0].certificate.serial"):
				t.Fatalf("reasons %+v, want %s at signers[0].certificate.serial", dec.Reasons, tc.code)
			}
		})
	}
}

// bundleStore stores a document as its file and signatures in JSON, as
// the document store does; fail makes it refuse.
type bundleStore struct{ fail bool }

type bundle struct {
	LocalUID   string   `json:"local_uid"`
	Data       []byte   `json:"data"`
	Signatures [][]byte `json:"signatures"`
}

func (s bundleStore) StoreRecord(ev *topics.DocumentEvent, file []byte, _ time.Time) (Publish, error) {
	if s.fail {
		return Publish{}, errors.New("no room")
	}
	b := bundle{LocalUID: ev.LocalUID, Data: file}
	for _, sg := range ev.Signers {
		b.Signatures = append(b.Signatures, sg.Signature)
	}
	v, err := json.Marshal(b)
	return Publish{Topic: "egisz.document.file.v1", Key: ev.LocalUID, Value: v}, err
}

// An accepted document is stored with the file that was checked (the
// fetched one, for a file by reference) and its signatures; a rejected one
// is not stored, and one the store cannot take is not accepted.
func TestDocumentsStored(t *testing.T) {
	pki, ev, refs := signedSetup(t)
	good := ev.File.Data
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(good) }))
	defer srv.Close()
	byRef := map[string]any{"media_type": "text/xml", "ref": srv.URL + "/good.xml", "size": len(good), "sha256": sum(good)}
	checker := checkerOf(t, pki)
	fetcher := docfetch.New(docfetch.Config{Client: srv.Client()})
	for _, tc := range []struct {
		name   string
		file   map[string]any // nil: the signed example's inline file
		store  bundleStore
		stored bool
		code   string
	}{
		{name: "inline", stored: true},
		{name: "by reference", file: byRef, stored: true},
		{name: "rejected", file: map[string]any{"media_type": "text/xml", "ref": srv.URL + "/good.xml", "size": len(good), "sha256": sum(good[1:])}, code: reasons.DocumentDigestMismatch},
		{name: "the store refuses", store: bundleStore{fail: true}, code: reasons.ForwardUnbuildable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecider(source.DefaultOptions(), refs).WithDocuments(Documents{Checker: checker, Fetcher: fetcher, Store: tc.store})
			edit := func(m map[string]any) {
				if tc.file != nil {
					m["file"] = tc.file
				}
			}
			dec := d.Decide(docInput(t, ev, edit), now)
			if tc.code != "" {
				if len(dec.Reasons) != 1 || dec.Reasons[0].Code != tc.code || len(dec.Publish) != 0 {
					t.Fatalf("reasons %+v, %d records to publish; want %s and none", dec.Reasons, len(dec.Publish), tc.code)
				}
				return
			}
			if len(dec.Reasons) > 0 || len(dec.Publish) != 1 {
				t.Fatalf("reasons %+v, %d records to publish; want it accepted and stored", dec.Reasons, len(dec.Publish))
			}
			var b bundle
			if err := json.Unmarshal(dec.Publish[0].Value, &b); err != nil {
				t.Fatal(err)
			}
			if dec.Publish[0].Key != ev.LocalUID || !bytes.Equal(b.Data, good) || len(b.Signatures) != 2 || !bytes.Equal(b.Signatures[0], ev.Signers[0].Signature) {
				t.Errorf("stored %s with %d bytes and %d signatures, not the document's file and signatures", dec.Publish[0].Key, len(b.Data), len(b.Signatures))
			}
		})
	}
}

// A document whose checks run out of time is retried, not accepted on what
// was checked so far.
func TestDocumentChecksOutOfTime(t *testing.T) {
	pki, ev, refs := signedSetup(t)
	d := NewDecider(source.DefaultOptions(), refs).WithDocuments(Documents{Checker: checkerOf(t, pki), Timeout: time.Nanosecond})
	dec := d.Decide(docInput(t, ev, nil), now)
	if len(dec.Reasons) != 1 || dec.Reasons[0].Code != reasons.DocumentCheckIncomplete || !dec.Reasons[0].Retryable {
		t.Fatalf("reasons %+v, want one retryable %s", dec.Reasons, reasons.DocumentCheckIncomplete)
	}
}
