package cda_test

import (
	"context"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
)

// BenchmarkCheck checks a 50 KiB СЭМД with two signatures (the doctor's and
// the organization's, each chained to the root): with ГОСТ keys, and the
// same work with ECDSA P-256 keys and SHA-256 from the same run, the ratio
// being what counts on a shared machine.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512, signer.ECDSAP256SHA256} {
		b.Run(alg.String(), func(b *testing.B) {
			f := newFixture(b, alg)
			ev := event()
			file, err := semdtest.File(ev, 50<<10)
			if err != nil {
				b.Fatal(err)
			}
			doc, err := f.pki.Sign(ctx, ev, file)
			if err != nil {
				b.Fatal(err)
			}
			if res := f.checker.Check(ctx, &doc.Event, doc.File, requestAt); len(res.Problems) != 0 {
				b.Fatalf("the benchmark's document fails: %v", res.Problems)
			}
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				f.checker.Check(ctx, &doc.Event, doc.File, requestAt)
			}
		})
	}
}
