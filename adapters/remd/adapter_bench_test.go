package remd

import (
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

// BenchmarkRegisterDocument is the gateway's share of one РЭМД
// registration's call: Build (the outbound record to the request element)
// and Sign (the WS-Security envelope), then Classify of the accepted
// answer. ГОСТ 2012-256 beside ECDSA P-256 in the same run, so the ratio
// holds on a shared machine; Build alone isolates the XML work.
func BenchmarkRegisterDocument(b *testing.B) {
	doc := signedDocument(b)
	value := outbound(b, "document", doc.Event)
	ec, _ := ecdsaSigner(b)
	answer := []byte(env12(svc(ElemRegisterResponse, "<ns2:status>success</ns2:status>")))
	for _, su := range []struct {
		name string
		s    signer.Signer
	}{{"ECDSA-P256", ec}, {"GOST-256", gostSigner(b)}} {
		a := newAdapter(b, su.s, wssec.SOAP12)
		b.Run(su.name+"/build", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Build(value, testCEID, testCallback); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(su.name+"/build+sign+classify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				call := sign(b, a, build(b, a, "document", doc.Event))
				if out := a.Classify(call, 200, "", answer); out.Result != "accepted" {
					b.Fatalf("classified %s", out.Result)
				}
			}
		})
	}
}
