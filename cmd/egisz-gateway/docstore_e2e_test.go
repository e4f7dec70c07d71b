package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/docstore"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestDevDocumentPublishedAndStored: the README's way of publishing a
// document works against dev with nothing set up. document-event builds
// the event from the committed CDA, its .sig files and document.json; dev
// checks it under the test CA, accepts it, and writes it to the document
// store, from which a reader that is no part of the gateway (as another
// instance would be) gets the very file and signatures back.
func TestDevDocumentPublishedAndStored(t *testing.T) {
	d := startDev(t)
	d.waitReady(t, time.Minute)
	examples := filepath.Join("..", "..", "docs", "examples")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"document-event", "--compact", "--meta", filepath.Join(examples, "document.json"),
		"--cda", filepath.Join(examples, "document.cda.xml"),
		"--sig", "doctor=" + filepath.Join(examples, "document.doctor.sig"),
		"--sig", "organization=" + filepath.Join(examples, "document.organization.sig")}, &stdout, &stderr, noEnv); code != exitOK {
		t.Fatalf("document-event: exit %d: %s", code, stderr.String())
	}
	var ev topics.DocumentEvent
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: topics.RMISDocument, Key: []byte(ev.Patient.SNILS), Value: bytes.TrimSpace(stdout.Bytes()), Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("docstore-e2e-1")},
		{Key: "ce_source", Value: []byte(ev.MOOID)}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.document.v1")},
	}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	store, err := docstore.New(topics.DocumentFileTopic, []kgo.Opt{kgo.SeedBrokers(d.broker)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	go func() { _ = store.Run(ctx) }()
	var got topics.StoredDocument
	for {
		got, err = store.Get(ctx, ev.LocalUID)
		if !errors.Is(err, docstore.ErrNotFound) {
			break
		}
		time.Sleep(100 * time.Millisecond) // not yet normalized
	}
	if err != nil {
		t.Fatalf("Get: %v\n%s", err, tail(d.stderr.String(), 40))
	}
	cda, err := os.ReadFile(filepath.Join(examples, "document.cda.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, cda) || len(got.Signatures) != 2 || !bytes.Equal(got.Signatures[0].Signature, ev.Signers[0].Signature) {
		t.Fatalf("the store holds another document (%d bytes, %d signatures)", len(got.Data), len(got.Signatures))
	}
}
