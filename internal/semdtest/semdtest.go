// Package semdtest makes signed СЭМД for tests, the load generator, the
// demo and the examples: from a document event's metadata, the CDA file
// (built by adapters/cda) and a detached CMS signature per signer, made
// under a test CA with certificates shaped as qualified ones are: a
// person's with СНИЛС and name, an organisation's with ОГРН and no СНИЛС.
// Everything it makes verifies with the real checks (adapters/cda.Check),
// so a test that wants a fault changes one thing in a good document.
package semdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// MediaType is the media type of a СЭМД file (contract30.md).
const MediaType = "text/xml"

// PKI is a test CA and the signing certificates it issued, one per person
// (by СНИЛС) and per organisation (by OID), made on first use and kept.
// Safe for concurrent use.
type PKI struct {
	// CA issues every certificate; its certificate is the trust root.
	CA *gostx509.TestCA
	// Alg is the algorithm of the keys it issues.
	Alg signer.Algorithm
	// NotBefore and NotAfter bound the issued certificates' validity.
	NotBefore, NotAfter time.Time

	mu      sync.Mutex
	signers map[string]signer.Signer
}

// NewPKI makes a root CA of alg and a PKI whose certificates are valid from
// two years before now to three years after it.
func NewPKI(ctx context.Context, alg signer.Algorithm, now time.Time) (*PKI, error) {
	from, to := now.AddDate(-2, 0, 0), now.AddDate(3, 0, 0)
	ca, err := gostx509.NewTestCA(ctx, alg, gostx509.Subject{CommonName: "egisz-gateway test CA", Organization: "egisz-gateway tests", Country: "RU"},
		from.AddDate(-1, 0, 0), to.AddDate(1, 0, 0), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("test CA: %w", err)
	}
	return FromCA(ca, alg, from, to), nil
}

// FromCA is a PKI issuing from an existing CA (a committed one, say) keys
// of alg valid from notBefore to notAfter.
func FromCA(ca *gostx509.TestCA, alg signer.Algorithm, notBefore, notAfter time.Time) *PKI {
	return &PKI{CA: ca, Alg: alg, NotBefore: notBefore, NotAfter: notAfter, signers: map[string]signer.Signer{}}
}

// Roots are the certificates a verifier must trust for this PKI.
func (p *PKI) Roots() []*x509.Certificate { return []*x509.Certificate{p.CA.Certificate} }

// Verifier is a chain verifier trusting this PKI's root.
func (p *PKI) Verifier() (*gostx509.Verifier, error) {
	return gostx509.NewVerifier(gostx509.VerifierConfig{Roots: p.Roots(), SignatureCacheSize: cda.SignatureCacheSize})
}

// PersonSubject is the subject of a person's qualified certificate:
// surname, given name and patronymic, the full name as CN, and the СНИЛС.
func PersonSubject(person topics.Person) (gostx509.Subject, error) {
	snils, err := ident.NormalizeSNILS(person.SNILS)
	if err != nil {
		return gostx509.Subject{}, fmt.Errorf("person's СНИЛС: %w", err)
	}
	given := strings.TrimSpace(person.GivenName + " " + person.Patronymic)
	return gostx509.Subject{
		CommonName: strings.TrimSpace(person.FamilyName + " " + given), Surname: person.FamilyName, GivenNames: given,
		Country: "RU", SNILS: snils,
	}, nil
}

// OrganizationSubject is the subject of an organisation's certificate
// (ЭП МО): its name and an ОГРН derived from its OID, no СНИЛС.
func OrganizationSubject(moOID string) gostx509.Subject {
	name := "Медицинская организация " + moOID
	return gostx509.Subject{CommonName: name, Organization: name, Country: "RU", OGRN: OGRNFor(moOID)}
}

// OGRNFor derives a stable, well-formed ОГРН (13 digits, its check digit
// the 12-digit number mod 11, mod 10) from an OID, for test organisations.
func OGRNFor(oid string) string {
	sum := sha256.Sum256([]byte(oid))
	var b strings.Builder
	b.WriteByte('1') // a legal entity's ОГРН starts with 1 or 5
	for _, c := range sum[:11] {
		b.WriteByte('0' + c%10)
	}
	first, _ := strconv.ParseUint(b.String(), 10, 64)
	b.WriteByte('0' + byte(first%11%10))
	return b.String()
}

// Signer returns the signer of subject, issuing its certificate (a
// signing template: digitalSignature, contentCommitment) on first use.
func (p *PKI) Signer(ctx context.Context, subject gostx509.Subject) (signer.Signer, error) {
	key := subject.SNILS + "/" + subject.OGRN + "/" + subject.CommonName
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.signers[key]; ok {
		return s, nil
	}
	priv, cert, err := p.CA.IssueKey(ctx, p.Alg, gostx509.SigningTemplate(subject, p.NotBefore, p.NotAfter))
	if err != nil {
		return nil, fmt.Errorf("issue signing certificate: %w", err)
	}
	s, err := local.New(priv, cert)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	p.signers[key] = s
	return s, nil
}

// SignerFor returns the signer a topics.Signer of the request stands for:
// the person's certificate, or for role organization the certificate of
// the organisation moOID.
func (p *PKI) SignerFor(ctx context.Context, s topics.Signer, moOID string) (signer.Signer, error) {
	if s.Role == cda.RoleOrganization || s.Person == nil {
		return p.Signer(ctx, OrganizationSubject(moOID))
	}
	subj, err := PersonSubject(*s.Person)
	if err != nil {
		return nil, err
	}
	return p.Signer(ctx, subj)
}

// File builds the CDA of ev (cda.HeaderFor, cda.Build) with a body padded
// to make the file at least size bytes (0: no padding).
func File(ev topics.DocumentEvent, size int) ([]byte, error) {
	h, err := cda.HeaderFor(ev)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h.Body = "Тестовый документ egisz-gateway."
	file, err := cda.Build(h)
	if err != nil {
		return nil, err
	}
	if missing := size - len(file); missing > 0 {
		// Each line becomes a paragraph: its text and paragraphMarkup
		// bytes of indentation and tags.
		const paragraphMarkup = len("            <paragraph></paragraph>\n")
		line := strings.Repeat("Строка тела документа. ", 3)
		var body strings.Builder
		body.WriteString(h.Body)
		for added := 0; added < missing; added += len(line) + paragraphMarkup {
			body.WriteString("\n" + line)
		}
		h.Body = body.String()
		if file, err = cda.Build(h); err != nil {
			return nil, err
		}
	}
	return file, nil
}

// Document is a signed СЭМД and the event that carries it.
type Document struct {
	// Event is the request: File holds the CDA inline with its size and
	// SHA-256, each signer its signature.
	Event topics.DocumentEvent
	// File is the CDA.
	File []byte
	// Signatures are the detached CMS signatures over File, one per
	// Event.Signers entry, in the same order.
	Signatures [][]byte
}

// Sign signs file for every signer of ev, each at its signed_at (the
// event's created_at when empty), and returns the event carrying file.
func (p *PKI) Sign(ctx context.Context, ev topics.DocumentEvent, file []byte) (Document, error) {
	doc := Document{Event: ev, File: file, Signatures: make([][]byte, len(ev.Signers))}
	doc.Event.Signers = append([]topics.Signer(nil), ev.Signers...)
	for i, s := range ev.Signers {
		at := s.SignedAt
		if at == "" {
			at = ev.CreatedAt
		}
		when, err := datetime.ParseDateTime(string(at))
		if err != nil {
			return Document{}, fmt.Errorf("signers[%d].signed_at: %w", i, err)
		}
		sg, err := p.SignerFor(ctx, s, ev.MOOID)
		if err != nil {
			return Document{}, fmt.Errorf("signers[%d]: %w", i, err)
		}
		if doc.Signatures[i], err = SignFile(ctx, sg, file, when); err != nil {
			return Document{}, fmt.Errorf("signers[%d]: %w", i, err)
		}
		doc.Event.Signers[i].Signature = doc.Signatures[i]
	}
	sum := sha256.Sum256(file)
	doc.Event.File = topics.Attachment{MediaType: MediaType, Data: bytes.Clone(file), Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:])}
	return doc, nil
}

// Make builds ev's CDA (File, no padding) and signs it (Sign).
func (p *PKI) Make(ctx context.Context, ev topics.DocumentEvent) (Document, error) {
	file, err := File(ev, 0)
	if err != nil {
		return Document{}, err
	}
	return p.Sign(ctx, ev, file)
}

// SignFile makes a detached CAdES-BES signature (signingTime,
// signingCertificateV2) of file by s at the given time.
func SignFile(ctx context.Context, s signer.Signer, file []byte, at time.Time) ([]byte, error) {
	var r io.Reader = bytes.NewReader(file)
	sig, err := cms.Sign(ctx, s, r, cms.SignOptions{SigningTime: at, SigningCertificateV2: true})
	if err != nil {
		return nil, fmt.Errorf("sign file: %w", err)
	}
	return sig, nil
}
