package normalize

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// BenchmarkDecideDocument is the normalize stage's work on one document
// event of 50 KiB with two signatures (the doctor's and the
// organisation's), from the record's bytes to the decision: decoding, the
// reference checks, the CDA header and both signatures with their chains.
// The ГОСТ figure stands beside the same work with ECDSA P-256 and beside
// the event alone without its document's checks, from the same run. On one
// goroutine ns/op is the CPU a document costs; docs/s is one core's rate.
func BenchmarkDecideDocument(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		alg     signer.Algorithm
		checked bool
	}{
		{"gost2012-256", signer.GOST2012_256, true},
		{"ecdsa-p256", signer.ECDSAP256SHA256, true},
		{"event-only", signer.GOST2012_256, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			pki, err := semdtest.NewPKI(ctx, tc.alg, now)
			if err != nil {
				b.Fatal(err)
			}
			var ev topics.DocumentEvent
			if err := json.Unmarshal(topics.Example("document.json"), &ev); err != nil {
				b.Fatal(err)
			}
			for i := range ev.Signers {
				ev.Signers[i].Certificate = nil
			}
			file, err := semdtest.File(ev, 50<<10)
			if err != nil {
				b.Fatal(err)
			}
			doc, err := pki.Sign(ctx, ev, file)
			if err != nil {
				b.Fatal(err)
			}
			sd, err := cms.Parse(doc.Event.Signers[0].Signature)
			if err != nil {
				b.Fatal(err)
			}
			r := exampleRefs(b)
			emp := *r.employees["12345678964"]
			emp.Certificates = []topics.Certificate{{Serial: sd.Signer.SerialNumber.Text(16)}}
			r.employees["12345678964"] = &emp
			d := NewDecider(source.DefaultOptions(), r)
			if tc.checked {
				v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: pki.Roots(), SignatureCacheSize: cda.SignatureCacheSize})
				if err != nil {
					b.Fatal(err)
				}
				c, err := cda.NewChecker(cda.Config{Verifier: v, Algorithms: []signer.Algorithm{tc.alg}})
				if err != nil {
					b.Fatal(err)
				}
				d.WithDocuments(Documents{Checker: c})
			}
			in := docInput(b, doc.Event, nil)
			if dec := d.Decide(in, now); len(dec.Reasons) > 0 {
				b.Fatalf("the benchmark's document is rejected: %+v", dec.Reasons)
			}
			b.SetBytes(int64(len(in.Value)))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				d.Decide(in, now)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
		})
	}
}
