package wssec

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// benchEnvelope is a typical ИПС message: the transport header, the four
// addressing headers and a body of about 4 KiB.
func benchEnvelope() Envelope {
	env := testEnvelope(SOAP12)
	var b strings.Builder
	b.WriteString(`<emdr:registerDocumentRequest xmlns:emdr="http://egisz.rosminzdrav.ru/iehr/emdr/service/">`)
	for i := 0; b.Len() < 4096; i++ {
		fmt.Fprintf(&b, `<emdr:field n="%d">Значение поля %d, ICD-10 J45.0</emdr:field>`, i, i)
	}
	b.WriteString(`</emdr:registerDocumentRequest>`)
	env.Body = []byte(b.String())
	return env
}

// BenchmarkEnvelope signs and verifies the same envelope with ECDSA P-256
// (the counterpart) and ГОСТ 2012, in one run so the ratio holds on a
// shared machine.
func BenchmarkEnvelope(b *testing.B) {
	env := benchEnvelope()
	type setup struct {
		name  string
		s     signer.Signer
		trust func(*x509.Certificate) error
	}
	ec := newECDSASigner(b)
	g256 := newGostPKI(b, signer.GOST2012_256)
	g512 := newGostPKI(b, signer.GOST2012_512)
	trustAny := func(*x509.Certificate) error { return nil }
	for _, su := range []setup{
		{"ECDSA-P256", ec, trustAny},
		{"GOST-256", g256.signer, trustAny},
		{"GOST-512", g512.signer, trustAny},
	} {
		doc, err := Sign(context.Background(), su.s, env, SignOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("sign/"+su.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for i := 0; i < b.N; i++ {
				if _, err := Sign(context.Background(), su.s, env, SignOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("verify/"+su.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for i := 0; i < b.N; i++ {
				if _, err := Verify(doc, VerifyOptions{TrustCertificate: su.trust}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
