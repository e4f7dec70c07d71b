package docstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func document(uid string, size int) topics.StoredDocument {
	data := bytes.Repeat([]byte(fmt.Sprintf("<ClinicalDocument id=%q/>", uid)), size/40+1)[:size]
	sum := sha256.Sum256(data)
	return topics.StoredDocument{
		LocalUID: uid, MediaType: "text/xml", Data: data, SHA256: hex.EncodeToString(sum[:]),
		Signatures: []topics.StoredSignature{{Role: "doctor", Signature: []byte("cms-" + uid)}, {Role: "organization", Signature: []byte("cms-org-" + uid)}},
		StoredAt:   time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
}

func TestRecordRefusesWhatItCannotServe(t *testing.T) {
	good := document("2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11", 100)
	cases := []struct {
		name   string
		mutate func(d *topics.StoredDocument)
	}{
		{"no local_uid", func(d *topics.StoredDocument) { d.LocalUID = "" }},
		{"no file", func(d *topics.StoredDocument) { d.Data = nil }},
		{"file changed after hashing", func(d *topics.StoredDocument) { d.Data = append([]byte("x"), d.Data[1:]...) }},
		{"no signature", func(d *topics.StoredDocument) { d.Signatures = nil }},
		{"an empty signature", func(d *topics.StoredDocument) { d.Signatures[1].Signature = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			d.Signatures = append([]topics.StoredSignature(nil), good.Signatures...)
			tc.mutate(&d)
			if _, err := Record("store", d); !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("Record: %v, want ErrInvalidDocument", err)
			}
		})
	}
	r, err := Record("store", good)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Key) != good.LocalUID || r.Topic != "store" {
		t.Fatalf("record key %q topic %q", r.Key, r.Topic)
	}
}

// TestDocumentOfAnEvent: the stored form of an event holds the file it is
// given (the checked one, not the event's inline data: a fetched file has
// none) with its digest, and every signer's role and signature in order.
func TestDocumentOfAnEvent(t *testing.T) {
	ev := &topics.DocumentEvent{LocalUID: "2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11",
		File:    topics.Attachment{MediaType: "text/xml", Ref: "https://mis.example.ru/x.xml"},
		Signers: []topics.Signer{{Role: "doctor", Signature: []byte{1, 2}}, {Role: "organization", Signature: []byte{3}}}}
	file := []byte("<ClinicalDocument/>")
	at := time.Date(2026, 12, 7, 19, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	doc := Document(ev, file, at)
	sum := sha256.Sum256(file)
	if doc.LocalUID != ev.LocalUID || !bytes.Equal(doc.Data, file) || doc.SHA256 != hex.EncodeToString(sum[:]) ||
		doc.MediaType != "text/xml" || !doc.StoredAt.Equal(at) || doc.StoredAt.Location() != time.UTC {
		t.Errorf("stored %+v", doc)
	}
	if len(doc.Signatures) != 2 || doc.Signatures[1].Role != "organization" || !bytes.Equal(doc.Signatures[0].Signature, []byte{1, 2}) {
		t.Errorf("signatures %+v", doc.Signatures)
	}
	if _, err := Encode(doc); err != nil {
		t.Errorf("Encode: %v", err)
	}
	ev.Signers[1].Signature = nil
	if _, err := Encode(Document(ev, file, at)); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("Encode of a signer without a signature: %v", err)
	}
}

// TestGetFromAnyInstanceAfterRestart: documents committed in transactions
// (one aborted, one deleted by a tombstone) are served by an instance that
// started after they were written (a restart), and by one that was
// already running when a document was stored by another producer; an
// aborted or deleted document is not found.
func TestGetFromAnyInstanceAfterRestart(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	topic := kc.Name(topics.DocumentFileTopic)
	row, _ := topics.Default().Lookup(topics.DocumentFileTopic)
	if _, err := kc.Admin(t).CreateTopic(ctx, row.Partitions, -1, topics.TopicConfigs(row), topic); err != nil {
		t.Fatal(err)
	}
	producer := kc.Client(t, kgo.TransactionalID(kc.Name("normalize")), kgo.ProducerBatchMaxBytes(topics.DocumentFileRecordBytes))
	transact := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	put := func(d topics.StoredDocument) *kgo.Record {
		t.Helper()
		r, err := Record(topic, d)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var docs []topics.StoredDocument
	for i := range 20 {
		docs = append(docs, document(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), 10<<10+i*997))
	}
	docs[3] = document(docs[3].LocalUID, 3<<20) // a large СЭМД
	var recs []*kgo.Record
	for _, d := range docs {
		recs = append(recs, put(d))
	}
	transact(true, recs...)
	aborted := document("aaaaaaaa-0000-4000-8000-000000000000", 1000)
	transact(false, put(aborted))
	transact(true, Tombstone(topic, docs[5].LocalUID))

	open := func() *Store {
		t.Helper()
		s, err := New(topic, []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done; s.Close() })
		return s
	}
	check := func(s *Store, d topics.StoredDocument, want error) {
		t.Helper()
		got, err := s.Get(ctx, d.LocalUID)
		if !errors.Is(err, want) {
			t.Fatalf("Get(%s): %v, want %v", d.LocalUID, err, want)
		}
		if want == nil && (!bytes.Equal(got.Data, d.Data) || got.SHA256 != d.SHA256 || len(got.Signatures) != 2 ||
			!bytes.Equal(got.Signatures[1].Signature, d.Signatures[1].Signature) || !got.StoredAt.Equal(d.StoredAt)) {
			t.Fatalf("Get(%s) returned another document", d.LocalUID)
		}
	}

	first := open()
	for i, d := range docs {
		if i == 5 {
			check(first, d, ErrNotFound)
			continue
		}
		check(first, d, nil)
	}
	check(first, aborted, ErrNotFound)
	check(first, document("ffffffff-0000-4000-8000-000000000000", 10), ErrNotFound)

	// A restart: a new index, built from the topic alone.
	restarted := open()
	<-restarted.index.Loaded()
	check(restarted, docs[0], nil)
	check(restarted, docs[3], nil)
	check(restarted, docs[5], ErrNotFound)

	// Stored by another instance's transaction while both run: found at
	// once by both, whichever partition it went to.
	late := document("bbbbbbbb-0000-4000-8000-000000000000", 12<<10)
	transact(true, put(late))
	check(restarted, late, nil)
	check(first, late, nil)
}
