package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// resignedDocument makes payload, an example document event changed by the
// test (its patient, its local_uid), a real signed СЭМД again: the CDA
// built from the event, so that its header names the patient the event
// does, and each signer's detached signature over it made with the
// committed test PKI (the doctor's or the organisation's key). РЭМД (the
// emulator) fetches this file and checks it against the signatures'
// digest and the request, as it does the normalize stage's output.
func resignedDocument(t testing.TB, pki *testpki.PKI, payload map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	var ev topics.DocumentEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	file, err := semdtest.File(ev, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range ev.Signers {
		s := &ev.Signers[i]
		at := s.SignedAt
		if at == "" {
			at = ev.CreatedAt
		}
		when, err := datetime.ParseDateTime(string(at))
		if err != nil {
			t.Fatal(err)
		}
		key := pki.Doctor
		if s.Role == cda.RoleOrganization || s.Person == nil {
			key = pki.Organization
		}
		if s.Signature, err = semdtest.SignFile(ctx, key, file, when); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(file)
	ev.File = topics.Attachment{MediaType: semdtest.MediaType, Data: file, Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:])}
	if b, err = json.Marshal(ev); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// withStoredDocuments is recs preceded by the document store's record of
// every РЭМД outbound document among them, as the normalize stage writes
// it in the transaction of the outbound record (documentStore.StoreRecord):
// РЭМД's getDocumentFile is answered from that store.
func withStoredDocuments(t testing.TB, recs []*kgo.Record) []*kgo.Record {
	t.Helper()
	suffix := topics.Outbound(topics.RegistryREMD)
	var out []*kgo.Record
	for _, r := range recs {
		prefix, ok := strings.CutSuffix(r.Topic, suffix)
		if !ok {
			continue
		}
		var ob struct {
			Event topics.DocumentEvent `json:"event"`
		}
		if err := json.Unmarshal(r.Value, &ob); err != nil {
			t.Fatalf("РЭМД outbound record: %v", err)
		}
		pub, err := documentStore{}.StoreRecord(&ob.Event, ob.Event.File.Data, time.Now())
		if err != nil {
			t.Fatalf("document store record of %s: %v", header(r, "ce_id"), err)
		}
		out = append(out, &kgo.Record{Topic: prefix + pub.Topic, Key: []byte(pub.Key), Value: pub.Value})
	}
	return append(out, recs...)
}

// testPKI loads the committed test PKI.
func testPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	p, err := testpki.Load()
	if err != nil {
		t.Fatal(fmt.Errorf("load the test PKI: %w", err))
	}
	return p
}
