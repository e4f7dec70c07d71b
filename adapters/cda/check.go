package cda

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// signingKeyUsage is what a document signature's certificate must allow
// (one of them): РЭМД's INVALID_CERT_KEY_USAGE.
const signingKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment

// DefaultClockSkew is how far a signature's signingTime may lie after the
// request's time before it counts as later than the request: the MIS's
// clock and ours differ a little.
const DefaultClockSkew = 2 * time.Minute

// signedAtTolerance is how far a signer's declared signed_at may be from
// the signature's signingTime: the MIS may round it to the minute.
const signedAtTolerance = time.Minute

// SignatureCacheSize is the gostx509.VerifierConfig.SignatureCacheSize
// the Verifier of a Checker should have: the certificates of a few
// thousand doctors and organisations and their CAs, whose chains then cost
// no signature verification after the first document (a few hundred KiB).
const SignatureCacheSize = 8192

// Config configures a Checker.
type Config struct {
	// Verifier holds the accredited roots (and CRLs) signatures must chain
	// to. Required; give it SignatureCacheSize.
	Verifier *gostx509.Verifier
	// ClockSkew is how far after the request a signature may be dated;
	// zero means DefaultClockSkew.
	ClockSkew time.Duration
	// Catalog resolves codes for CheckDocument; nil means reasons.Default().
	Catalog *reasons.Catalog
	// Algorithms are the signature algorithms accepted; empty means ГОСТ
	// Р 34.10-2012 256 and 512, the ones РЭМД takes. (The benchmark adds
	// ECDSA P-256 to compare the same work.)
	Algorithms []signer.Algorithm
}

// Checker checks a signed СЭМД against the request that carries it: the
// CDA header against the request's fields, and each detached CMS
// signature against the file, its certificate and the signer it stands
// for. It holds no mutable state and is safe for concurrent use.
type Checker struct {
	verifier   *gostx509.Verifier
	skew       time.Duration
	algorithms map[signer.Algorithm]bool
	catalog    *reasons.Catalog
}

// NewChecker returns a Checker of cfg.
func NewChecker(cfg Config) (*Checker, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("cda checker: no verifier (trusted roots) configured")
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512}
	}
	algs := map[signer.Algorithm]bool{}
	for _, a := range cfg.Algorithms {
		algs[a] = true
	}
	if cfg.Catalog == nil {
		cfg.Catalog = reasons.Default()
	}
	return &Checker{verifier: cfg.Verifier, skew: cfg.ClockSkew, algorithms: algs, catalog: cfg.Catalog}, nil
}

// SignerCertificate is what a verified signature says of its signer, for
// the checks that need reference data (ФРМР: the СНИЛС, the certificate).
type SignerCertificate struct {
	// Index is the signer's index in the request's signers.
	Index int
	// Certificate is the signer's certificate from the signature.
	Certificate *x509.Certificate
	// Serial is its serial number, lower-case hex as topics.Certificate.
	Serial string
	// Subject is its holder: СНИЛС and names, or ОГРН.
	Subject gostx509.Subject
	// SigningTime is the signature's signingTime.
	SigningTime time.Time
	// Verified is true when the signature, the digest and the chain all
	// passed.
	Verified bool
}

// Result is the outcome of Check.
type Result struct {
	// Problems are every fault found, each with its catalog code, the
	// request field at fault and an English detail without personal data.
	Problems []source.Problem
	// KindMapped is false when the kind table has no row for the request's
	// kind, so code and templateId were not checked (to be counted).
	KindMapped bool
	// Signers are the certificates of the signatures that parsed.
	Signers []SignerCertificate
	// Err is the context's error when it ended before every signature was
	// checked: the result is then incomplete and must not be acted on
	// (neither accepted nor rejected), only retried.
	Err error
}

// Reasons returns the problems as the contract's reasons, resolved
// through the catalog.
func (r Result) Reasons(c *reasons.Catalog) []topics.Reason {
	out := make([]topics.Reason, 0, len(r.Problems))
	for _, p := range r.Problems {
		rs := c.Resolve(p.Code)
		out = append(out, topics.Reason{Code: rs.Code, Owner: string(rs.Owner), Retryable: rs.Retryable(), Field: p.Field, MessageRU: rs.RU, MessageEN: rs.EN})
	}
	return out
}

// CheckDocument is Check with the problems as the contract's reasons. It
// fails only when ctx ended before the check was complete.
func (c *Checker) CheckDocument(ctx context.Context, ev *topics.DocumentEvent, file []byte, requestAt time.Time) ([]topics.Reason, error) {
	res := c.Check(ctx, ev, file, requestAt)
	if res.Err != nil {
		return nil, fmt.Errorf("check document: %w", res.Err)
	}
	return res.Reasons(c.catalog), nil
}

// Check checks file, the СЭМД of ev (ev.File's bytes, inline or fetched),
// and each signer's detached CMS signature, as of requestAt (the time of
// the request: signatures dated after it are refused). Every fault is
// reported, not only the first, and none stops the others: a file that
// does not parse still has its signatures checked. When ctx ends first,
// Result.Err says so.
func (c *Checker) Check(ctx context.Context, ev *topics.DocumentEvent, file []byte, requestAt time.Time) Result {
	var res Result
	chk := &source.Check{}
	_, res.KindMapped = LookupKind(ev.Kind)
	h, err := Parse(file)
	if err != nil {
		chk.Add(parseCode(err), "file", parseDetail(err))
	} else {
		checkHeader(chk, ev, &h)
	}
	res.Signers, res.Err = c.checkSignatures(ctx, chk, ev, file, requestAt)
	res.Problems = chk.Problems
	return res
}

func parseCode(err error) string {
	switch {
	case errors.Is(err, ErrDTD):
		return reasons.DocumentDTDForbidden
	case errors.Is(err, ErrNotXML):
		return reasons.DocumentNotXML
	case errors.Is(err, ErrTooLarge):
		return reasons.DocumentTooLarge
	}
	return reasons.DocumentInvalid
}

// parseDetail is Parse's error without the "parse CDA" prefix; Parse's
// errors name elements, never their content.
func parseDetail(err error) string { return strings.TrimPrefix(err.Error(), "parse CDA: ") }

// checkHeader compares the CDA header with the request (PROTOCOLS.md §3).
func checkHeader(c *source.Check, ev *topics.DocumentEvent, h *Header) {
	if k, ok := LookupKind(ev.Kind); ok {
		if h.Code != k.Code || !contains(codeSystemsKind, h.CodeSystem) {
			c.Add(reasons.DocumentKindMismatch, "kind", fmt.Sprintf("ClinicalDocument/code is not %s of НСИ 1522, the code of kind %s", k.Code, k.Kind))
		}
		if h.TemplateID != k.TemplateID {
			c.Add(reasons.DocumentKindMismatch, "kind", fmt.Sprintf("templateId is not %s, the template of kind %s", k.TemplateID, k.Kind))
		}
	}
	mismatch := func(field, what string) {
		c.Add(reasons.DocumentHeaderMismatch, field, what+" in the document differs from the request")
	}
	if ident.LocalIDKind(h.ID.Root) != ident.LocalDocument {
		c.Add(reasons.DocumentInvalid, "file", "ClinicalDocument/id root does not end .51")
	}
	if ident.LocalIDKind(h.SetID.Root) != ident.LocalSet {
		c.Add(reasons.DocumentInvalid, "file", "setId root does not end .50")
	}
	if h.ID == h.SetID {
		c.Add(reasons.DocumentIDIsSetID, "file", "the document's id equals its setId")
	}
	if h.ID != ev.DocumentID {
		mismatch("document_id", "ClinicalDocument/id")
	}
	if h.SetID != ev.SetID {
		mismatch("set_id", "setId")
	}
	if h.Version != ev.Version {
		mismatch("version", "versionNumber")
	}
	if created, err := datetime.ParseDateTime(string(ev.CreatedAt)); err == nil && !sameMoment(h.EffectiveTime, created) {
		mismatch("created_at", "effectiveTime")
	}
	if h.CustodianOID != ev.MOOID {
		mismatch("mo_oid", "the custodian organization's id")
	}
	checkPatient(c, &ev.Patient, &h.Patient)
	checkAuthors(c, ev, h)
}

// sameMoment compares effectiveTime with created_at to the minute: a TS
// may be written without seconds.
func sameMoment(a, b time.Time) bool {
	return a.Truncate(time.Minute).Equal(b.Truncate(time.Minute))
}

func checkPatient(c *source.Check, p *topics.Patient, h *Patient) {
	mismatch := func(field, what string) {
		c.Add(reasons.DocumentHeaderMismatch, field, what+" in the document differs from the request")
	}
	if p.SNILS != "" {
		if snils, err := ident.NormalizeSNILS(p.SNILS); err == nil && snils != h.SNILS {
			mismatch("patient.snils", "the patient's СНИЛС (id root 1.2.643.100.3)")
		}
	}
	if p.LocalID != "" && p.LocalID != h.ID.Extension {
		mismatch("patient.local_id", "the patient's MIS id")
	}
	if ident.LocalIDKind(h.ID.Root) != ident.LocalPatient {
		c.Add(reasons.DocumentInvalid, "file", "recordTarget/patientRole/id root does not end .10")
	}
	if !ident.SameName(p.FamilyName, h.Name.Family) {
		mismatch("patient.family_name", "the patient's family name")
	}
	if !ident.SameName(p.GivenName, h.Name.Given) {
		mismatch("patient.given_name", "the patient's given name")
	}
	if !ident.SameName(p.Patronymic, h.Name.Patronymic) {
		mismatch("patient.patronymic", "the patient's patronymic")
	}
	if d, err := datetime.ParseDate(string(p.BirthDate)); err == nil && d.Format("2006-01-02") != h.BirthDate {
		mismatch("patient.birth_date", "the patient's birth date")
	}
	if p.Sex != "" && h.Sex != "" && p.Sex != h.Sex {
		mismatch("patient.sex", "the patient's sex")
	}
}

// checkAuthors finds each personal signer among the authors (a doctor) or
// as the legal authenticator (a head), compares names and position, and
// checks the legal authenticator signed.
func checkAuthors(c *source.Check, ev *topics.DocumentEvent, h *Header) {
	signers := map[string]bool{}
	for i, s := range ev.Signers {
		if s.Person == nil || s.Role == RoleOrganization {
			continue
		}
		f := fmt.Sprintf("signers[%d].person", i)
		snils, err := ident.NormalizeSNILS(s.Person.SNILS)
		if err != nil {
			continue // the request's own check reports it
		}
		signers[snils] = true
		p := findPerson(h, snils)
		if p == nil {
			c.Add(reasons.InvalidDoctorSNILS, f+".snils", "no author or legal authenticator of the document has this signer's СНИЛС")
			continue
		}
		if ident.LocalIDKind(p.ID.Root) != ident.LocalEmployee || p.ID.Extension == "" {
			c.Add(reasons.InvalidDoctorID, f, "the signer's id in the document is not an employee id (root ….70 with an extension)")
		}
		if !ident.SameName(s.Person.FamilyName, p.Name.Family) {
			c.Add(reasons.InvalidDoctorFamily, f+".family_name", "the signer's family name differs from the document's")
		}
		if !ident.SameName(s.Person.GivenName, p.Name.Given) {
			c.Add(reasons.InvalidDoctorName, f+".given_name", "the signer's given name differs from the document's")
		}
		if !ident.SameName(s.Person.Patronymic, p.Name.Patronymic) {
			c.Add(reasons.InvalidDoctorPatronymic, f+".patronymic", "the signer's patronymic differs from the document's")
		}
		if s.Person.PostCode != "" && p.PostCode != "" && s.Person.PostCode != p.PostCode {
			c.Add(reasons.InvalidDoctorPost, f+".post_code", "the signer's position differs from the document's (НСИ 1002)")
		}
	}
	switch {
	case h.LegalAuthenticator == nil:
		c.Add(reasons.LegalAuthenticatorNotFound, "signers", "the document has no legalAuthenticator")
	case !signers[h.LegalAuthenticator.SNILS]:
		c.Add(reasons.LegalAuthenticatorNotFound, "signers", "the document's legalAuthenticator is not among the personal signers")
	}
}

// findPerson returns the author, else the legal authenticator, with snils.
func findPerson(h *Header, snils string) *Person {
	for i := range h.Authors {
		if h.Authors[i].SNILS == snils {
			return &h.Authors[i]
		}
	}
	if h.LegalAuthenticator != nil && h.LegalAuthenticator.SNILS == snils {
		return h.LegalAuthenticator
	}
	return nil
}

// checkSignatures checks every signature and what it says of its signer.
func (c *Checker) checkSignatures(ctx context.Context, chk *source.Check, ev *topics.DocumentEvent, file []byte, requestAt time.Time) ([]SignerCertificate, error) {
	var out []SignerCertificate
	digests := map[signer.Algorithm][]byte{}  // the file's digest per algorithm, made once
	signed := map[signer.Algorithm][][]byte{} // the messageDigests the signatures carry
	for i, s := range ev.Signers {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		f := fmt.Sprintf("signers[%d].signature", i)
		der := s.Signature
		if len(der) == 0 {
			chk.Add(reasons.SignatureMissing, f, "no signature")
			continue
		}
		sd, err := cms.Parse(der)
		if err != nil {
			chk.Add(cmsCode(err), f, err.Error())
			continue
		}
		if !c.algorithms[sd.Algorithm] {
			chk.Add(reasons.AlgorithmUnsupported, f, "signature algorithm "+sd.Algorithm.String()+" is not accepted")
			continue
		}
		sc := SignerCertificate{Index: i, Certificate: sd.Signer, Serial: hex.EncodeToString(sd.Signer.SerialNumber.Bytes()), SigningTime: sd.SigningTime}
		sc.Subject, err = gostx509.SubjectOf(sd.Signer)
		if err != nil {
			chk.Add(reasons.MetadataCertificateMismatch, f, "the certificate's subject: "+err.Error())
		}
		digest, ok := digests[sd.Algorithm]
		if !ok {
			h := sd.ContentHash()
			h.Write(file)
			digest = h.Sum(nil)
			digests[sd.Algorithm] = digest
		}
		signed[sd.Algorithm] = append(signed[sd.Algorithm], sd.MessageDigest)
		sc.Verified = c.checkOne(chk, f, sd, digest, requestAt)
		if s.SignedAt != "" {
			if at, err := datetime.ParseDateTime(string(s.SignedAt)); err == nil && absDuration(at.Sub(sd.SigningTime)) > signedAtTolerance {
				sc.Verified = false
				chk.Add(reasons.SignatureTimeInvalid, fmt.Sprintf("signers[%d].signed_at", i), "signed_at differs from the signature's signingTime")
			}
		}
		if !checkHolder(chk, i, s, sc.Subject) {
			sc.Verified = false
		}
		if !checkDeclared(chk, i, s.Certificate, sd.Signer) {
			sc.Verified = false
		}
		out = append(out, sc)
	}
	for _, ds := range signed {
		for _, d := range ds[1:] {
			if !bytes.Equal(d, ds[0]) {
				chk.Add(reasons.InconsistentDigests, "signers", "the signatures digest different files")
				return out, nil
			}
		}
	}
	return out, nil
}

// checkOne checks one parsed signature: the digest, the signature, the
// signing time and the chain. It reports whether all passed.
func (c *Checker) checkOne(chk *source.Check, f string, sd *cms.SignedData, digest []byte, requestAt time.Time) bool {
	if !bytes.Equal(sd.MessageDigest, digest) {
		chk.Add(reasons.SignatureDigestMismatch, f, "the signature's messageDigest is not the digest of the file")
		return false
	}
	if err := sd.VerifyDigest(digest); err != nil {
		switch {
		case errors.Is(err, gostx509.ErrExpired), errors.Is(err, gostx509.ErrNotYetValid):
			chk.Add(reasons.CertificateExpired, f, err.Error())
		case errors.Is(err, gostx509.ErrUnsupportedAlgorithm):
			chk.Add(reasons.AlgorithmUnsupported, f, err.Error())
		default:
			chk.Add(reasons.SignatureInvalid, f, err.Error())
		}
		return false
	}
	ok := true
	if !requestAt.IsZero() && sd.SigningTime.After(requestAt.Add(c.skew)) {
		chk.Add(reasons.SignatureTimeInvalid, f, "the signingTime is later than the request")
		ok = false
	}
	if ku := sd.Signer.KeyUsage; ku != 0 && ku&signingKeyUsage == 0 {
		chk.Add(reasons.CertificateKeyUsage, f, "the certificate allows neither digitalSignature nor nonRepudiation")
		return false
	}
	var intermediates []*x509.Certificate
	for _, cert := range sd.Certificates {
		if cert != sd.Signer {
			intermediates = append(intermediates, cert)
		}
	}
	_, err := c.verifier.Verify(sd.Signer, gostx509.VerifyOptions{Intermediates: intermediates, At: sd.SigningTime, Now: requestAt, KeyUsage: signingKeyUsage})
	switch {
	case err == nil:
	case errors.Is(err, gostx509.ErrKeyUsage):
		chk.Add(reasons.CertificateKeyUsage, f, err.Error())
		ok = false
	case errors.Is(err, gostx509.ErrExpired), errors.Is(err, gostx509.ErrNotYetValid):
		chk.Add(reasons.CertificateExpired, f, "a certificate of the chain: "+err.Error())
		ok = false
	case errors.Is(err, gostx509.ErrUnsupportedAlgorithm):
		chk.Add(reasons.AlgorithmUnsupported, f, err.Error())
		ok = false
	default:
		chk.Add(reasons.CertificateUntrusted, f, err.Error())
		ok = false
	}
	return ok
}

// checkHolder compares the certificate's holder with the signer of the
// request: a personal signature by a personal certificate with the
// signer's СНИЛС and name, an organization's by one with an ОГРН.
func checkHolder(chk *source.Check, i int, s topics.Signer, subj gostx509.Subject) bool {
	f := fmt.Sprintf("signers[%d]", i)
	if s.Role == RoleOrganization || s.Person == nil {
		if subj.OGRN == "" || subj.SNILS != "" {
			chk.Add(reasons.MetadataCertificateMismatch, f+".signature", "an organization's signature needs the organization's certificate (ОГРН, no СНИЛС)")
			return false
		}
		return true
	}
	if subj.SNILS == "" {
		if subj.OGRN != "" {
			chk.Add(reasons.SignatureOrganizationCert, f+".signature", "a personal signature made with the organization's certificate")
		} else {
			chk.Add(reasons.MetadataCertificateMismatch, f+".signature", "the certificate names no СНИЛС")
		}
		return false
	}
	ok := true
	if snils, err := ident.NormalizeSNILS(s.Person.SNILS); err == nil && snils != subj.SNILS {
		chk.Add(reasons.MetadataCertificateMismatch, f+".person.snils", "the signer's СНИЛС differs from the certificate's")
		ok = false
	}
	if subj.Surname != "" && !ident.SameName(s.Person.FamilyName, subj.Surname) {
		chk.Add(reasons.MetadataCertificateMismatch, f+".person.family_name", "the signer's family name differs from the certificate's")
		ok = false
	}
	if given := strings.TrimSpace(s.Person.GivenName + " " + s.Person.Patronymic); subj.GivenNames != "" && !ident.SameName(given, subj.GivenNames) {
		chk.Add(reasons.MetadataCertificateMismatch, f+".person.given_name", "the signer's given name and patronymic differ from the certificate's")
		ok = false
	}
	return ok
}

// declaredValidityTolerance is how far a declared not_before or not_after
// may be from the certificate's: a MIS may write the date at midnight.
const declaredValidityTolerance = 24 * time.Hour

// checkDeclared cross-checks the certificate a signer declares, where it
// does, with the one in the signature: the serial number (as a number, so
// leading zeros and case do not matter) and, within a day, the validity.
func checkDeclared(chk *source.Check, i int, d *topics.Certificate, cert *x509.Certificate) bool {
	if d == nil {
		return true
	}
	f := fmt.Sprintf("signers[%d].certificate", i)
	ok := true
	if serial, good := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(d.Serial), "0x"), 16); !good || serial.Cmp(cert.SerialNumber) != 0 {
		chk.Add(reasons.MetadataCertificateMismatch, f+".serial", "the declared serial number is not the signature's certificate's")
		ok = false
	}
	for _, v := range []struct {
		field    string
		declared topics.DateTime
		actual   time.Time
	}{{"not_before", d.NotBefore, cert.NotBefore}, {"not_after", d.NotAfter, cert.NotAfter}} {
		if v.declared == "" {
			continue
		}
		if at, err := datetime.ParseDateTime(string(v.declared)); err == nil && absDuration(at.Sub(v.actual)) > declaredValidityTolerance {
			chk.Add(reasons.MetadataCertificateMismatch, f+"."+v.field, "the declared validity differs from the signature's certificate's")
			ok = false
		}
	}
	return ok
}

// cmsCode maps a cms.Parse failure to its reason.
func cmsCode(err error) string {
	switch {
	case errors.Is(err, cms.ErrMultipleSigners):
		return reasons.SignatureMultipleSigners
	case errors.Is(err, cms.ErrNoEndEntityCertificate):
		return reasons.SignatureNoCertificate
	case errors.Is(err, cms.ErrNoSigningTime):
		return reasons.SignatureTimeInvalid
	case errors.Is(err, cms.ErrUnknownAlgorithm), errors.Is(err, cms.ErrAlgorithmMismatch), errors.Is(err, gostx509.ErrUnsupportedAlgorithm):
		return reasons.AlgorithmUnsupported
	}
	return reasons.SignatureFormat
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
