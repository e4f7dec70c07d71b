// Package testpki is the fixed test PKI of the committed examples: a
// ГОСТ Р 34.10-2012 (256-bit) certification authority that exists only
// here, the example doctor's personal signing certificate (ЭП МР, with his
// СНИЛС) and the example medical organization's (ЭП МО, with its ОГРН and
// no СНИЛС), with their private keys and the CA's, under which Issue makes
// more (the load generator's doctors and organizations).
// docs/examples/document.json is signed with them, and `dev` trusts the CA
// so that the examples and the generated documents are accepted there.
//
// TEST ONLY. The keys are public, in this repository; nothing they sign
// proves anything. A production gateway must never trust this CA: only
// `dev`, the tests and the load generator do.
//
// The files live in files/ (embedded) and are copied to
// docs/examples/testpki by `make docs`. They are valid until 2036 at least;
// Generate makes a new set (EGISZ_REGENERATE_TESTPKI=1 go test
// ./internal/testpki/ rewrites files/).
package testpki

import (
	"context"
	"crypto"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
)

//go:embed files/*.pem
var files embed.FS

// The file names of the PKI, in files/ and docs/examples/testpki/.
const (
	CAFile              = "ca.pem"
	CAKeyFile           = "ca.key.pem"
	DoctorCertFile      = "doctor.pem"
	DoctorKeyFile       = "doctor.key.pem"
	OrganizationCert    = "organization.pem"
	OrganizationKeyFile = "organization.key.pem"
)

// FileNames lists every file of the PKI.
var FileNames = []string{CAFile, CAKeyFile, DoctorCertFile, DoctorKeyFile, OrganizationCert, OrganizationKeyFile}

// The holders, as the example events and reference feeds name them
// (topics/examples: document.json, employee.json, organization.json).
var (
	// DoctorSubject is the example doctor: СНИЛС 123-456-789 64.
	DoctorSubject = gostx509.Subject{
		CommonName: "Петров Алексей Сергеевич", Surname: "Петров", GivenNames: "Алексей Сергеевич",
		Title: "врач-терапевт", Organization: "ГБУЗ «Городская клиническая больница № 2»",
		Country: "RU", Province: "42 Кемеровская область - Кузбасс", Locality: "Кемерово",
		SNILS: "12345678964",
	}
	// OrganizationSubject is the example medical organization
	// (ФРМО 1.2.643.5.1.13.13.12.1.42.202): ОГРН and ИНН ЮЛ, no СНИЛС.
	OrganizationSubject = gostx509.Subject{
		CommonName: "ГБУЗ «Городская клиническая больница № 2»", Organization: "ГБУЗ «Городская клиническая больница № 2»",
		Country: "RU", Province: "42 Кемеровская область - Кузбасс", Locality: "Кемерово",
		OGRN: "1024200001231", INNLE: "4205001235",
	}
	// CASubject names the test CA so that nobody takes it for a real one.
	CASubject = gostx509.Subject{
		CommonName: "egisz-gateway TEST CA (not a real УЦ)", Organization: "egisz-gateway test PKI, public keys, test only",
		Country: "RU",
	}
)

// Serial numbers and validity of the certificates: those the example
// events declare (topics/examples/document.json, employee.json).
var (
	DoctorSerial, _       = new(big.Int).SetString("01d7a3f25c9b8e4000000000000000aa", 16)
	OrganizationSerial, _ = new(big.Int).SetString("02aa41be00ce11f0000000000000004c", 16)
)

var (
	msk             = time.FixedZone("MSK", 3*60*60)
	caNotBefore     = time.Date(2025, 1, 1, 0, 0, 0, 0, msk)
	caNotAfter      = time.Date(2046, 1, 1, 0, 0, 0, 0, msk)
	doctorNotBefore = time.Date(2026, 1, 10, 0, 0, 0, 0, msk)
	doctorNotAfter  = time.Date(2036, 4, 10, 0, 0, 0, 0, msk)
	orgNotBefore    = time.Date(2025, 11, 1, 0, 0, 0, 0, msk)
	orgNotAfter     = time.Date(2036, 2, 1, 0, 0, 0, 0, msk)
)

// PKI is the loaded test PKI.
type PKI struct {
	// CA is the root the certificates chain to.
	CA *x509.Certificate
	// CAKey is the CA's private key, for Issue.
	CAKey crypto.PrivateKey
	// Doctor signs as the example doctor (role doctor), Organization as
	// the example organization (role organization); each has the CA in
	// its Chain.
	Doctor, Organization *local.Signer
}

// File returns one of the embedded files (FileNames).
func File(name string) ([]byte, error) {
	b, err := files.ReadFile("files/" + name)
	if err != nil {
		return nil, fmt.Errorf("test PKI file %s: %w", name, err)
	}
	return b, nil
}

// CAPEM is the CA certificate as PEM, for a trust_roots file.
func CAPEM() ([]byte, error) { return File(CAFile) }

// Load returns the embedded PKI.
func Load() (*PKI, error) {
	read := func(names ...string) ([][]byte, error) {
		var out [][]byte
		for _, n := range names {
			b, err := File(n)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	b, err := read(CAFile, DoctorCertFile, DoctorKeyFile, OrganizationCert, OrganizationKeyFile, CAKeyFile)
	if err != nil {
		return nil, err
	}
	cas, err := gostx509.ParseCertificatesPEM(b[0])
	if err != nil || len(cas) != 1 {
		return nil, fmt.Errorf("test PKI CA certificate: %d certificates, %v", len(cas), err)
	}
	caKey, err := gostx509.ParsePrivateKeyPEM(b[5])
	if err != nil {
		return nil, fmt.Errorf("test PKI CA key: %w", err)
	}
	signerOf := func(key, cert []byte, who string) (*local.Signer, error) {
		s, err := local.LoadPEM(key, append(append([]byte{}, cert...), b[0]...), "")
		if err != nil {
			return nil, fmt.Errorf("test PKI %s: %w", who, err)
		}
		return s, nil
	}
	doctor, err := signerOf(b[2], b[1], "doctor")
	if err != nil {
		return nil, err
	}
	org, err := signerOf(b[4], b[3], "organization")
	if err != nil {
		return nil, err
	}
	return &PKI{CA: cas[0], CAKey: caKey, Doctor: doctor, Organization: org}, nil
}

// Verifier is a chain verifier trusting the test CA alone.
func (p *PKI) Verifier() (*gostx509.Verifier, error) {
	return gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{p.CA}})
}

// Issue generates a ГОСТ 2012-256 key and a signing certificate of tmpl
// (gostx509.SigningTemplate's usages) for it under the test CA, and
// returns a signer of that key. Keys and signature nonces are drawn from
// rand: a seeded stream makes the same certificates and signatures again
// (the load generator's same seed, same events), which is fit for tests
// only. rand must be safe for the callers' concurrency.
func (p *PKI) Issue(ctx context.Context, tmpl gostx509.Template, rand io.Reader) (signer.Signer, error) {
	if tmpl.SerialNumber == nil || tmpl.SerialNumber.Sign() <= 0 {
		return nil, fmt.Errorf("issue test certificate: %w: a positive serial number is required", gostx509.ErrMalformed)
	}
	caSigner, err := gostx509.NewDigestSigner(p.CAKey, rand)
	if err != nil {
		return nil, fmt.Errorf("issue test certificate: %w", err)
	}
	key, pub, err := gostx509.GenerateKey(signer.GOST2012_256, rand)
	if err != nil {
		return nil, fmt.Errorf("issue test certificate: %w", err)
	}
	der, err := gostx509.CreateCertificate(ctx, &tmpl, pub, p.CA, caSigner)
	if err != nil {
		return nil, fmt.Errorf("issue test certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued test certificate: %w", err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand)
	if err != nil {
		return nil, fmt.Errorf("issue test certificate: %w", err)
	}
	return issued{DigestSigner: ds, cert: cert}, nil
}

// issued is a signer.Signer of a key Issue made.
type issued struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s issued) Certificate() *x509.Certificate { return s.cert }

// Generate makes a new PKI with the fixed subjects, serials and validity
// and returns its files by name, keys drawn from rand.
func Generate(ctx context.Context, rand io.Reader) (map[string][]byte, error) {
	ca, err := gostx509.NewTestCA(ctx, signer.GOST2012_256, CASubject, caNotBefore, caNotAfter, rand)
	if err != nil {
		return nil, fmt.Errorf("generate test CA: %w", err)
	}
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	caKeyPEM, err := gostx509.MarshalPrivateKeyPEM(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal test CA key: %w", err)
	}
	out := map[string][]byte{CAFile: certPEM(ca.Certificate), CAKeyFile: caKeyPEM}
	for _, h := range []struct {
		subject             gostx509.Subject
		serial              *big.Int
		notBefore, notAfter time.Time
		certFile, keyFile   string
	}{
		{DoctorSubject, DoctorSerial, doctorNotBefore, doctorNotAfter, DoctorCertFile, DoctorKeyFile},
		{OrganizationSubject, OrganizationSerial, orgNotBefore, orgNotAfter, OrganizationCert, OrganizationKeyFile},
	} {
		tmpl := gostx509.SigningTemplate(h.subject, h.notBefore, h.notAfter)
		tmpl.SerialNumber = h.serial
		key, cert, err := ca.IssueKey(ctx, signer.GOST2012_256, tmpl)
		if err != nil {
			return nil, fmt.Errorf("issue %s: %w", h.certFile, err)
		}
		keyPEM, err := gostx509.MarshalPrivateKeyPEM(key)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", h.keyFile, err)
		}
		out[h.certFile], out[h.keyFile] = certPEM(cert), keyPEM
	}
	return out, nil
}
