package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// BenchmarkNormalizeDocuments runs the normalize stage with its document
// checks over EGISZ_BENCH_DOCUMENTS (2000 by default) distinct signed
// СЭМД of about 16 KiB, each with the doctor's and the organization's ГОСТ
// 2012-256 signatures, and raw franz-go's transactional consume→produce
// over the same records in the same run: documents a second and CPU per
// document with signature verification. Run with -benchtime=1x.
func BenchmarkNormalizeDocuments(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("EGISZ_BENCH_DOCUMENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	pki, err := semdtest.NewPKI(ctx, signer.GOST2012_256, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var tmpl topics.DocumentEvent
	if err := json.Unmarshal(topics.Example("document.json"), &tmpl); err != nil {
		b.Fatal(err)
	}
	for i := range tmpl.Signers {
		tmpl.Signers[i].Certificate = nil
	}
	start := time.Now()
	values := make([][]byte, n)
	var serial string
	for i := range values {
		ev := tmpl
		ev.LocalUID = fmt.Sprintf("2b1c6a0e-6f0d-4c43-9d0f-%012d", i)
		ev.DocumentID.Extension = fmt.Sprintf("DOC-%d-1", i)
		ev.SetID.Extension = fmt.Sprintf("SET-%d", i)
		file, err := semdtest.File(ev, 16<<10)
		if err != nil {
			b.Fatal(err)
		}
		doc, err := pki.Sign(ctx, ev, file)
		if err != nil {
			b.Fatal(err)
		}
		if values[i], err = json.Marshal(doc.Event); err != nil {
			b.Fatal(err)
		}
		if serial == "" {
			sd, err := cms.Parse(doc.Event.Signers[0].Signature)
			if err != nil {
				b.Fatal(err)
			}
			serial = sd.Signer.SerialNumber.Text(16)
		}
	}
	b.Logf("signed %d documents of %d bytes in %s", n, len(values[0]), time.Since(start).Round(time.Millisecond))

	var emp topics.Employee
	if err := json.Unmarshal(topics.Example("employee.json"), &emp); err != nil {
		b.Fatal(err)
	}
	emp.Certificates = []topics.Certificate{{Serial: serial, NotBefore: topics.DateTime(pki.NotBefore.Format(time.RFC3339)), NotAfter: topics.DateTime(pki.NotAfter.Format(time.RFC3339))}}
	empValue, _ := json.Marshal(emp)
	kc, cl := prepareBench(b, empValue)
	in := kc.Prefix + topics.RMISDocument
	for i, v := range values {
		cl.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(tmpl.Patient.SNILS), Value: v, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(fmt.Sprintf("bench-doc-%d", i))},
			{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.document.v1")},
		}}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	roots := filepath.Join(b.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.CA.Certificate.Raw}), 0o600); err != nil {
		b.Fatal(err)
	}
	outcomes := measureNormalize(b, kc, in, n, "doc", func(cfg *config.Config) { cfg.Normalize.Documents.TrustRoots = []string{roots} })
	if outcomes["new"] != float64(n) {
		b.Fatalf("outcomes %v: want all %d documents new (accepted), or the figures measure something else", outcomes, n)
	}
}
