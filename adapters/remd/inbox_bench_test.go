package remd

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// BenchmarkInbox is the gateway's share of one РЭМД registration on the
// callback listener: reading the signed result callback and signing its
// answer, and reading the signed getDocumentFile request and signing the
// answer that carries a 32 KiB СЭМД. ГОСТ 2012-256 beside ECDSA P-256 in
// the same run, so the ratio holds on a shared machine. Trust is the
// certificate's identity for both: the chain check is gostx509's, cached
// per certificate pair, and not what is measured here.
func BenchmarkInbox(b *testing.B) {
	signers(b)
	ec, _ := ecdsaGateway(b)
	ecRemd, _ := ecdsaGateway(b)
	cda := bytes.Repeat([]byte(`<component><section><text>Гемоглобин 140 г/л</text></section></component>`), 32<<10/80)
	for _, su := range []struct {
		name          string
		remd, gateway signer.Signer
	}{
		{"ECDSA-P256", ecRemd, ec},
		{"GOST-256", remdSigner, gwSigner},
	} {
		trust := func(c *x509.Certificate) error {
			if !c.Equal(su.remd.Certificate()) {
				return errUntrustedBench
			}
			return nil
		}
		now := time.Now().UTC()
		f := &fixture{remd: su.remd, gateway: su.gateway, now: now}
		// A pool of distinct messages, each taken once per Inbox: a new
		// Inbox when the pool is used up keeps the replay check honest
		// without signing inside the loop.
		const pool = 64
		callbacks, files := make([][]byte, pool), make([][]byte, pool)
		for i := range pool {
			callbacks[i] = f.sign(b, message{action: ActionCallback, messageID: freshID(), ttl: time.Hour,
				body: resultBody(`<cb:relatesToMessage>` + callMessageID + `</cb:relatesToMessage><cb:status>success</cb:status><cb:localUid>0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11</cb:localUid><cb:registryItem><cb:emdrId>1.2.643.5.1.13.13.12.2.77.7777.0.123456</cb:emdrId><cb:registrationDateTime>2026-12-07T10:00:00+03:00</cb:registrationDateTime></cb:registryItem>`)})
			files[i] = f.sign(b, message{action: ActionGetDocumentFile, messageID: freshID(), ttl: time.Hour,
				body: `<cb:getDocumentFileRequest ` + cbNS + `><cb:localUid>0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11</cb:localUid></cb:getDocumentFileRequest>`})
		}
		newInbox := func() *Inbox {
			in, err := NewInbox(InboxConfig{Trust: trust, Signer: su.gateway, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			return in
		}
		run := func(msgs [][]byte, file seam.File) func(*testing.B) {
			return func(b *testing.B) {
				b.ReportAllocs()
				in := newInbox()
				for i := 0; i < b.N; i++ {
					if i%pool == 0 && i > 0 {
						in = newInbox()
					}
					m, err := in.Inbound(context.Background(), wssec.SOAP12.ContentType(), msgs[i%pool])
					if err != nil {
						b.Fatal(err)
					}
					if a := in.Answer(context.Background(), m, file); a.Status != http.StatusOK {
						b.Fatalf("answer %d", a.Status)
					}
				}
			}
		}
		b.Run("callback/"+su.name, run(callbacks, seam.File{}))
		b.Run("file-32KiB/"+su.name, run(files, seam.File{Found: true, LocalUID: "0b3f8f0e-5c1a-4f61-9d8e-3f0c2d1a7b11", Data: cda}))
	}
}

var errUntrustedBench = errors.New("not the benchmark's РЭМД certificate")
