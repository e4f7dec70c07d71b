package normalize

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/gateway/docfetch"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestAcceptedDocumentsGoToTheStore: an accepted document, inline or
// fetched by reference, is published to the document store under its
// local_uid with its file and every signer's signature; a refused one is
// not.
func TestAcceptedDocumentsGoToTheStore(t *testing.T) {
	pki, ev, refs := signedSetup(t)
	good := ev.File.Data
	other := append(bytes.Clone(good), ' ')
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(good) }))
	defer srv.Close()
	d := NewDecider(source.DefaultOptions(), refs).WithDocuments(Documents{Checker: checkerOf(t, pki),
		Fetcher: docfetch.New(docfetch.Config{Client: srv.Client(), Timeout: 5 * time.Second})})
	cases := []struct {
		name   string
		file   map[string]any
		stored bool
	}{
		{"inline", map[string]any{"media_type": "text/xml", "data": base64.StdEncoding.EncodeToString(good), "size": len(good), "sha256": sum(good)}, true},
		{"by reference", map[string]any{"media_type": "text/xml", "ref": srv.URL + "/doc.xml", "size": len(good), "sha256": sum(good)}, true},
		{"refused: signatures over another file", map[string]any{"media_type": "text/xml", "data": base64.StdEncoding.EncodeToString(other), "size": len(other), "sha256": sum(other)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dec := d.Decide(docInput(t, ev, func(m map[string]any) { m["file"] = tc.file }), now)
			var stored []Publish
			for _, p := range dec.Publish {
				if p.Topic == topics.DocumentFileTopic {
					stored = append(stored, p)
				}
			}
			if !tc.stored {
				if len(dec.Reasons) == 0 || len(stored) > 0 {
					t.Fatalf("reasons %v, %d store records; want refused and none", dec.Reasons, len(stored))
				}
				return
			}
			if len(dec.Reasons) > 0 || len(stored) != 1 {
				t.Fatalf("reasons %v, %d store records; want accepted and one", dec.Reasons, len(stored))
			}
			var doc topics.StoredDocument
			if err := json.Unmarshal(stored[0].Value, &doc); err != nil {
				t.Fatal(err)
			}
			if stored[0].Key != ev.LocalUID || doc.LocalUID != ev.LocalUID || !bytes.Equal(doc.Data, good) || doc.SHA256 != sum(good) || !doc.StoredAt.Equal(now) {
				t.Errorf("stored %s: %+v", stored[0].Key, doc)
			}
			if len(doc.Signatures) != len(ev.Signers) {
				t.Fatalf("%d signatures stored, %d signers", len(doc.Signatures), len(ev.Signers))
			}
			for i, s := range ev.Signers {
				if doc.Signatures[i].Role != s.Role || !bytes.Equal(doc.Signatures[i].Signature, s.Signature) {
					t.Errorf("signature %d (%s) not stored as signed", i, s.Role)
				}
			}
		})
	}
}
