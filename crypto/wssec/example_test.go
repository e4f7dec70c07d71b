package wssec_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
)

type exampleSigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s exampleSigner) Certificate() *x509.Certificate { return s.cert }

// A registry adapter signs its request with the information system's ГОСТ
// key and checks the registry's signed answer with the chain verifier.
func Example() {
	ctx := context.Background()
	now := time.Now()
	// A test CA stands in for the accredited one; in production the
	// signer is crypto/signer's external СКЗИ and the roots are configured.
	ca, err := gostx509.NewTestCA(ctx, signer.GOST2012_256, gostx509.Subject{CommonName: "Test CA"}, now.Add(-time.Hour), now.Add(time.Hour), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	key, cert, err := ca.IssueKey(ctx, signer.GOST2012_256, gostx509.SigningTemplate(gostx509.Subject{CommonName: "MIS"}, now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		log.Fatal(err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		log.Fatal(err)
	}

	msg, err := wssec.Sign(ctx, exampleSigner{ds, cert}, wssec.Envelope{
		Version: wssec.SOAP12,
		Headers: [][]byte{[]byte(`<egisz:transportHeader xmlns:egisz="http://egisz.rosminzdrav.ru"><egisz:authInfo><egisz:clientEntityId>0b8a1c52-5c4e-4b4e-9d0e-3c1f6f7a2b11</egisz:clientEntityId></egisz:authInfo></egisz:transportHeader>`)},
		Addressing: wssec.Addressing{
			Action:    "sendDocument",
			MessageID: "urn:uuid:6b29fc40-ca47-1067-b31d-00dd010662da",
			To:        "https://ips.rosminzdrav.ru/57ad868a70467",
			ReplyTo:   wssec.AnonymousAddress,
		},
		Body: []byte(`<m:getStatus xmlns:m="urn:example"><m:id>42</m:id></m:getStatus>`),
	}, wssec.SignOptions{})
	if err != nil {
		log.Fatal(err)
	}

	chain, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}})
	if err != nil {
		log.Fatal(err)
	}
	v, err := wssec.Verify(msg, wssec.VerifyOptions{
		TrustCertificate: func(c *x509.Certificate) error {
			_, err := chain.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
			return err
		},
		MustHave: []wssec.Part{wssec.PartAction, wssec.PartMessageID},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Read the message only through v: these are the signed elements.
	fmt.Println(v.Version, v.Algorithm, v.Addressing.Action, v.Body.Elements()[0].Local)
	// Output: SOAP 1.2 GOST R 34.10-2012 256 / Streebog-256 sendDocument getStatus
}
