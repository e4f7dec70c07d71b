package emulator

import (
	"bytes"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// checkFile checks the file fetched from the sender as РЭМД does before
// it registers a document: that it is the file whose digest the request's
// signatures registered (DIGEST_MISMATCH) and that they verify over it,
// then its CDA header against the request (PROTOCOLS.md §2.4). It returns
// the errors of the callback, none when the document registers. Messages
// name what differs, never the values.
func checkFile(req registerRequest, digests map[signer.Algorithm][]byte, file []byte) []Error {
	fileDigests := map[signer.Algorithm][]byte{}
	for alg, want := range digests {
		h := alg.NewHash()
		h.Write(file)
		got := h.Sum(nil)
		if !bytes.Equal(got, want) {
			return []Error{{Code: codeDigestMismatch, Message: "the digest of the file received from the sending system differs from the registered one"}}
		}
		fileDigests[alg] = got
	}
	var errs []Error
	for _, sd := range requestSignatures(req) {
		if err := sd.VerifyDigest(fileDigests[sd.Algorithm]); err != nil {
			errs = append(errs, Error{Code: codeSignatureInvalid, Message: "a signature does not verify over the file"})
			break
		}
	}
	errs = append(errs, checkHolders(req)...)
	h, err := cda.Parse(file)
	if err != nil {
		return append(errs, Error{Code: codeXMLValidation, Message: "the file is not a СЭМД (CDA header unreadable)"})
	}
	return append(errs, checkHeader(req, &h)...)
}

// requestSignatures are the parsed signatures of the request, personal
// and the organisation's.
func requestSignatures(req registerRequest) []*cms.SignedData {
	var out []*cms.SignedData
	for _, s := range req.Signatures {
		if s.Signature.Parsed != nil {
			out = append(out, s.Signature.Parsed)
		}
	}
	if req.OrgSignature != nil && req.OrgSignature.Parsed != nil {
		out = append(out, req.OrgSignature.Parsed)
	}
	return out
}

// checkHeader compares the CDA header with the request: the patient, the
// custodian organisation, the creation time, the kind's code and
// template, each personal signer against the document's people, each
// author among the signers, and the legal authenticator among the
// signers.
func checkHeader(req registerRequest, h *cda.Header) []Error {
	var errs []Error
	add := func(code, msg string) { errs = append(errs, Error{Code: code, Message: msg}) }
	p := req.Patient
	if p.SNILS != "" && p.SNILS != h.Patient.SNILS {
		add(codePatientMismatch, "the patient's СНИЛС in the document differs from the request")
	}
	if !ident.SameName(p.FamilyName, h.Patient.Name.Family) {
		add(codePatientMismatch, "the patient's family name in the document differs from the request")
	}
	if !ident.SameName(p.GivenName, h.Patient.Name.Given) {
		add(codePatientMismatch, "the patient's given name in the document differs from the request")
	}
	if !ident.SameName(p.Patronymic, h.Patient.Name.Patronymic) {
		add(codePatientMismatch, "the patient's patronymic in the document differs from the request")
	}
	if p.BirthDate != h.Patient.BirthDate {
		add(codePatientMismatch, "the patient's birth date in the document differs from the request")
	}
	if req.Organization != h.CustodianOID {
		add(codeAttributeMismatch, "the document's custodian organization differs from the request's organization")
	}
	if created, err := time.Parse(time.RFC3339, req.CreationDateTime); err == nil &&
		!created.Truncate(time.Minute).Equal(h.EffectiveTime.Truncate(time.Minute)) {
		// effectiveTime may be written without seconds: to the minute.
		add(codeAttributeMismatch, "the document's effectiveTime differs from the request's creationDateTime")
	}
	if k, ok := cda.LookupKind(req.Kind); ok && (h.Code != k.Code || h.TemplateID != k.TemplateID) {
		// GUESS of the code: the file fails the kind's schema.
		add(codeXMLValidation, "the document's code or templateId is not those of the request's kind")
	}
	// The document's people by СНИЛС: an author before the legal
	// authenticator when one is both.
	people := map[string]*cda.Person{}
	if la := h.LegalAuthenticator; la != nil {
		people[la.SNILS] = la
	}
	for i := range h.Authors {
		people[h.Authors[i].SNILS] = &h.Authors[i]
	}
	signers := map[string]bool{}
	for _, s := range req.Signatures {
		signers[s.Signer.SNILS] = true
		person := people[s.Signer.SNILS]
		if person == nil {
			add(codeDoctorSNILS, "no author or legal authenticator of the document has a signer's СНИЛС")
			continue
		}
		if !ident.SameName(s.Signer.LastName, person.Name.Family) {
			add(codeDoctorFamily, "a signer's family name differs from the document's")
		}
		if !ident.SameName(s.Signer.FirstName, person.Name.Given) {
			add(codeDoctorName, "a signer's given name differs from the document's")
		}
		if !ident.SameName(s.Signer.MiddleName, person.Name.Patronymic) {
			add(codeDoctorPatronymic, "a signer's patronymic differs from the document's")
		}
	}
	for _, a := range h.Authors {
		if !signers[a.SNILS] {
			add(codeDoctorSNILS, "an author of the document is not among the signers")
		}
	}
	if h.LegalAuthenticator == nil || !signers[h.LegalAuthenticator.SNILS] {
		add(codeLegalAuthenticator, "the document's legal authenticator is not among the signers")
	}
	return errs
}

// checkHolders compares each personal signer of the request with the
// holder its signature's certificate names: the СНИЛС must be the same
// person's (VALUE_MISMATCH_METADATA_AND_CERTIFICATE, PROTOCOLS.md §2.4).
func checkHolders(req registerRequest) []Error {
	var errs []Error
	for _, s := range req.Signatures {
		sd := s.Signature.Parsed
		if sd == nil {
			continue
		}
		subj, err := gostx509.SubjectOf(sd.Signer)
		if err != nil || subj.SNILS != s.Signer.SNILS {
			errs = append(errs, Error{Code: codeMetadataCertificate, Message: "a signer's СНИЛС differs from the one in its signature's certificate"})
		}
	}
	return errs
}
