package cms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// doctorSigner is an in-process signer.Signer for the example.
type doctorSigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s doctorSigner) Certificate() *x509.Certificate { return s.cert }

// A test CA issues a doctor's ГОСТ certificate; the doctor signs a СЭМД
// detached; the gateway verifies the signature and the chain at the
// signing time and reads who signed.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ca, err := gostx509.NewTestCA(ctx, signer.GOST2012_256, gostx509.Subject{CommonName: "Test CA"}, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	key, cert, err := ca.IssueKey(ctx, signer.GOST2012_256, gostx509.SigningTemplate(gostx509.Subject{
		CommonName: "Иванов Иван Иванович", Surname: "Иванов", GivenNames: "Иван Иванович", SNILS: "11223344595",
	}, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0)))
	if err != nil {
		log.Fatal(err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	semd := []byte("<ClinicalDocument/>")
	sig, err := cms.Sign(ctx, doctorSigner{ds, cert}, bytes.NewReader(semd), cms.SignOptions{SigningTime: now})
	if err != nil {
		log.Fatal(err)
	}

	trust, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := cms.Verify(sig, bytes.NewReader(semd), cms.Options{Verifier: trust})
	if err != nil {
		log.Fatal(err)
	}
	holder, err := gostx509.SubjectOf(res.Signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(holder.Surname, holder.SNILS, res.SigningTime.Format(time.RFC3339), res.Algorithm, len(res.Chain))
	// Output: Иванов 11223344595 2026-12-01T12:00:00Z GOST R 34.10-2012 256 / Streebog-256 2
}
