package normalize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/gateway/docfetch"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// seenChecker records the files it is given and refuses those listed in
// refuse: it stands for the CDA and signature checks, so that what is
// tested here is what the decider hands them and does with their answer.
type seenChecker struct {
	mu     sync.Mutex
	seen   [][]byte
	refuse map[string]string // file contents → reason code
}

func (c *seenChecker) CheckDocument(_ context.Context, _ *topics.DocumentEvent, file []byte, _ time.Time) []topics.Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, bytes.Clone(file))
	if code, ok := c.refuse[string(file)]; ok {
		return []topics.Reason{{Code: code, Field: "file"}}
	}
	return nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// documentCases are document events with their file inline or by
// reference, and what the decider must make of them.
func documentCases(srvURL string, good, bad []byte) []struct {
	name     string
	file     map[string]any
	noFetch  bool   // the decider has no fetcher
	code     string // "" to accept
	checked  []byte // the file the checker must have seen; nil: not called
	retrying bool   // the reason says a replay can help
} {
	inline := func(b []byte) map[string]any {
		return map[string]any{"media_type": "text/xml", "data": base64.StdEncoding.EncodeToString(b), "size": len(b), "sha256": sum(b)}
	}
	ref := func(path string, b []byte) map[string]any {
		return map[string]any{"media_type": "text/xml", "ref": srvURL + path, "size": len(b), "sha256": sum(b)}
	}
	return []struct {
		name     string
		file     map[string]any
		noFetch  bool
		code     string
		checked  []byte
		retrying bool
	}{
		{name: "good inline", file: inline(good), checked: good},
		{name: "good by reference", file: ref("/good.xml", good), checked: good},
		{name: "refused by the checks", file: inline(bad), code: reasons.DocumentDigestMismatch, checked: bad},
		{name: "reference not found", file: ref("/missing.xml", good), code: reasons.DocumentFetchFailed, retrying: true},
		{name: "reference serves another file", file: ref("/bad.xml", good), code: reasons.DocumentDigestMismatch},
		{name: "reference larger than declared", file: ref("/good.xml", good[:len(good)-1]), code: reasons.DocumentTooLarge},
		{name: "no fetcher for a reference", file: ref("/good.xml", good), noFetch: true, code: reasons.DocumentFetchFailed, retrying: true},
	}
}

func TestDocumentsFetchedAndChecked(t *testing.T) {
	good := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>good</title></ClinicalDocument>`)
	bad := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>bad!</title></ClinicalDocument>`)
	mux := http.NewServeMux()
	mux.HandleFunc("/good.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(good) })
	mux.HandleFunc("/bad.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(bad) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	for _, tc := range documentCases(srv.URL, good, bad) {
		t.Run(tc.name, func(t *testing.T) {
			checker := &seenChecker{refuse: map[string]string{string(bad): reasons.DocumentDigestMismatch}}
			docs := Documents{Checker: checker}
			if !tc.noFetch {
				docs.Fetcher = docfetch.New(docfetch.Config{Client: srv.Client(), Timeout: 5 * time.Second})
			}
			d := NewDecider(source.DefaultOptions(), exampleRefs(t)).WithDocuments(docs)
			dec := d.Decide(input(t, topics.RMISDocument, "document.json", func(m map[string]any) { m["file"] = tc.file }), now)
			switch {
			case tc.code == "" && len(dec.Reasons) > 0:
				t.Fatalf("rejected: %+v", dec.Reasons)
			case tc.code == "" && len(dec.Routes) == 0:
				t.Fatal("accepted without routes")
			case tc.code != "" && (len(dec.Reasons) != 1 || dec.Reasons[0].Code != tc.code):
				t.Fatalf("reasons %+v, want one %s", dec.Reasons, tc.code)
			case tc.code != "" && dec.Reasons[0].Retryable != tc.retrying:
				t.Fatalf("%s retryable=%v, want %v", tc.code, dec.Reasons[0].Retryable, tc.retrying)
			}
			switch {
			case tc.checked == nil && len(checker.seen) > 0:
				t.Errorf("the checker was called for a file that was not fetched")
			case tc.checked != nil && (len(checker.seen) != 1 || !bytes.Equal(checker.seen[0], tc.checked)):
				t.Errorf("the checker saw %d files, want exactly the event's", len(checker.seen))
			}
			// A fetched file goes on by its reference: the payload does
			// not grow by the file.
			if tc.code == "" && tc.file["ref"] != nil && bytes.Contains(dec.Payload, []byte(base64.StdEncoding.EncodeToString(good))) {
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
	doc, err := pki.Make(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Event
}

// ФРМР's list of a worker's certificates is compared with the certificate
// the worker signed with, not the one the event declares.
func TestFRMRCertificateIsTheSignaturesOwn(t *testing.T) {
	pki, err := semdtest.NewPKI(context.Background(), signer.GOST2012_256, now)
	if err != nil {
		t.Fatal(err)
	}
	ev := signedExample(t, pki)
	sd, err := cms.Parse(ev.Signers[0].Signature)
	if err != nil {
		t.Fatal(err)
	}
	inSignature := fmt.Sprintf("%x", sd.Signer.SerialNumber)
	r := exampleRefs(t)
	doctor := r.employees["12345678964"]
	declared := doctor.Certificates[0]
	for _, tc := range []struct {
		name     string
		frmr     []topics.Certificate
		declared *topics.Certificate
		code     string
	}{
		{"ФРМР lists the signature's certificate", []topics.Certificate{{Serial: "00" + strings.ToUpper(inSignature)}}, nil, ""},
		{"ФРМР lists only the declared one", []topics.Certificate{declared}, &declared, reasons.CertNotInFRMR},
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
			value, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			in := input(t, topics.RMISDocument, "document.json", nil)
			in.Value = value
			dec := NewDecider(source.DefaultOptions(), refs).Decide(in, now)
			switch {
			case tc.code == "" && len(dec.Reasons) > 0:
				t.Fatalf("rejected: %+v", dec.Reasons)
			case tc.code != "" && (len(dec.Reasons) != 1 || dec.Reasons[0].Code != tc.code || dec.Reasons[0].Field != "signers[0].certificate.serial"):
				t.Fatalf("reasons %+v, want %s at signers[0].certificate.serial", dec.Reasons, tc.code)
			}
		})
	}
}
