package emulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"regexp"
	"strconv"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	wire "github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// РЭМД's codes the emulator answers with (НСИ 1.2.643.5.1.13.13.99.2.305,
// domain/EGISZ.md §4, PROTOCOLS.md §2.4, §4). Where the public record has
// no code for a fault the emulator finds, the nearest one is chosen and
// marked GUESS.
const (
	codeValidation          = "VALIDATION_ERROR" // the request's own structure (XSD)
	codeXMLValidation       = "XML_VALIDATION_ERROR"
	codeAlreadyRegistered   = "NOT_UNIQUE_PROVIDED_ID"
	codeCanNotAssociate     = "CAN_NOT_ASSOCIATE"
	codeSignatureFormat     = "WRONG_SIGNATURE_FORMAT"
	codeInconsistentDigests = "INCONSISTENT_DIGESTS"
	codeDigestMismatch      = "DIGEST_MISMATCH"
	codeSignatureInvalid    = "SIGNATURE_VERIFICATION_ERROR"
	// codePatientMismatch: the CDA's patient (СНИЛС, name, birth date)
	// differs from the request's. GUESS: PATIENT_SURNAME/NAME_NOT_FOUND
	// exist in НСИ 305 too, but their texts speak of the national patient
	// index, not of the document; PATIENT_MPI_MISMATCH is the one the
	// reason catalog knows.
	codePatientMismatch    = "PATIENT_MPI_MISMATCH"
	codeDoctorSNILS        = "INVALID_DOCTOR_SNILS"
	codeDoctorFamily       = "INVALID_DOCTOR_FAMILY"
	codeDoctorName         = "INVALID_DOCTOR_NAME"
	codeDoctorPatronymic   = "INVALID_DOCTOR_PATRONYMIC"
	codeLegalAuthenticator = "LEGAL_AUTHENTICATOR_NOT_FOUND"
	// codeMetadataCertificate: a signer's metadata differ from the holder
	// its certificate names.
	codeMetadataCertificate = "VALUE_MISMATCH_METADATA_AND_CERTIFICATE"
	// codeAttributeMismatch: the custodian organization differs from the
	// request's organization ("the metadata must equal what was
	// registered", PROTOCOLS.md §2.4). GUESS of which code РЭМД gives.
	codeAttributeMismatch = "ATTRIBUTE_MISMATCH"
	codeMISNotAvailable   = "MIS_NOT_AVAILABLE"
	codeObjectNotFound    = "OBJECT_NOT_FOUND"
	codeRateLimit         = "RATE_LIMIT"
	codeRuntime           = "RUNTIME_ERROR"
	codeInternal          = "INTERNAL_ERROR"
)

// registerRequest is what the emulator reads of registerDocumentRequest.
type registerRequest struct {
	LocalUID, Kind, DocumentNumber, CreationDateTime, Organization, Department string
	Patient                                                                    patientData
	Signatures                                                                 []personalSignature
	OrgSignature                                                               *signatureData
	// Associations are the emdrIds the document links to.
	Associations []string
}

type patientData struct {
	LocalID, SNILS, FamilyName, GivenName, Patronymic, BirthDate, Gender string
}

type personalSignature struct {
	Signer    signerData
	Signature signatureData
}

type signerData struct {
	LocalID, LastName, FirstName, MiddleName, SNILS string
}

type signatureData struct {
	DER    []byte
	Parsed *cms.SignedData
}

var (
	digitsRe   = regexp.MustCompile(`^[0-9]+$`)
	snilsRe    = regexp.MustCompile(`^[0-9]{11}$`)
	birthDayRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// parseRegister reads registerDocumentRequest and checks it as РЭМД's XSD
// and its first checks would: the errors are what the synchronous answer
// lists. Messages name fields, never their values.
func parseRegister(el *xmldsig.Element) (registerRequest, []Error) {
	r := &reader{ns: wire.NamespaceService}
	var req registerRequest
	var errs []Error
	invalid := func(field, what string) {
		errs = append(errs, Error{Code: codeValidation, Message: field + ": " + what})
	}
	req.LocalUID = r.req(el, "", "localUid")
	req.Kind = r.req(el, "", "kind")
	req.DocumentNumber = r.opt(el, "documentNumber")
	req.CreationDateTime = r.req(el, "", "creationDateTime")
	req.Organization = r.req(el, "", "organization")
	req.Department = r.opt(el, "department")
	if req.LocalUID != "" && !ident.ValidUUID(req.LocalUID) {
		invalid("localUid", "not an RFC 4122 UUID")
	}
	if req.Kind != "" && !digitsRe.MatchString(req.Kind) {
		invalid("kind", "not an НСИ 1520 id")
	}
	if req.CreationDateTime != "" {
		if _, err := time.Parse(time.RFC3339, req.CreationDateTime); err != nil {
			invalid("creationDateTime", "not an xsd:dateTime with a UTC offset")
		}
	}
	if req.Organization != "" && !ident.ValidOID(req.Organization) {
		invalid("organization", "not an OID")
	}
	if req.Department != "" && !ident.ValidOID(req.Department) {
		invalid("department", "not an OID")
	}

	p := r.child(el, "patient")
	if p == nil {
		r.missing = append(r.missing, "patient")
	} else {
		req.Patient = patientData{
			LocalID: r.opt(p, "localId"), SNILS: r.opt(p, "snils"),
			FamilyName: r.req(p, "patient/", "familyName"), GivenName: r.req(p, "patient/", "givenName"),
			Patronymic: r.opt(p, "patronymic"), BirthDate: r.req(p, "patient/", "birthDate"), Gender: r.req(p, "patient/", "gender"),
		}
		if req.Patient.SNILS != "" && !snilsRe.MatchString(req.Patient.SNILS) {
			invalid("patient/snils", "not 11 digits")
		}
		if req.Patient.BirthDate != "" {
			if _, err := time.Parse(time.DateOnly, req.Patient.BirthDate); err != nil || !birthDayRe.MatchString(req.Patient.BirthDate) {
				invalid("patient/birthDate", "not YYYY-MM-DD")
			}
		}
		if g := req.Patient.Gender; g != "" && g != "1" && g != "2" {
			invalid("patient/gender", "not 1 or 2 (НСИ 1.2.643.5.1.13.13.11.1040)")
		}
	}

	sigs := r.child(el, "personalSignatures")
	items := []*xmldsig.Element(nil)
	if sigs != nil {
		items = sigs.ChildrenNamed(wire.NamespaceService, "personalSignature")
	}
	if len(items) == 0 {
		r.missing = append(r.missing, "personalSignatures/personalSignature")
	}
	for i, it := range items {
		path := fmt.Sprintf("personalSignatures/personalSignature[%d]/", i+1)
		s := r.child(it, "signer")
		if s == nil {
			r.missing = append(r.missing, path+"signer")
		}
		ps := personalSignature{Signer: signerData{
			LocalID: r.opt(s, "localId"), LastName: r.req(s, path+"signer/", "lastName"), FirstName: r.req(s, path+"signer/", "firstName"),
			MiddleName: r.opt(s, "middleName"), SNILS: r.req(s, path+"signer/", "snils"),
		}}
		if ps.Signer.SNILS != "" && !snilsRe.MatchString(ps.Signer.SNILS) {
			invalid(path+"signer/snils", "not 11 digits")
		}
		sig, sigErrs := readSignature(r, r.child(it, "signature"), path+"signature/")
		errs = append(errs, sigErrs...)
		ps.Signature = sig
		req.Signatures = append(req.Signatures, ps)
	}
	if as := r.child(el, "associations"); as != nil {
		for i, a := range as.ChildrenNamed(wire.NamespaceService, "association") {
			path := fmt.Sprintf("associations/association[%d]/", i+1)
			target, typ := r.req(a, path, "target"), r.req(a, path, "type")
			if typ != "" && !digitsRe.MatchString(typ) {
				invalid(path+"type", "not a code of НСИ 1.2.643.5.1.13.13.99.2.122")
			}
			if target != "" {
				req.Associations = append(req.Associations, target)
			}
		}
	}
	if o := r.child(el, "orgSignature"); o != nil {
		sig, sigErrs := readSignature(r, o, "orgSignature/")
		errs = append(errs, sigErrs...)
		req.OrgSignature = &sig
	}
	for _, m := range r.missing {
		errs = append(errs, Error{Code: codeValidation, Message: m + ": required element missing or empty"})
	}
	if len(errs) == 0 {
		if _, err := requestDigests(req); err != nil {
			errs = append(errs, Error{Code: codeInconsistentDigests, Message: err.Error()})
		}
	}
	return req, errs
}

// readSignature reads signature{data, checksum}: data is the base64 of a
// detached CMS SignedData, checksum the decimal CRC32 (IEEE) of its DER
// (issue 31's contract; GUESS, PROTOCOLS.md §2.2).
func readSignature(r *reader, el *xmldsig.Element, path string) (signatureData, []Error) {
	if el == nil {
		r.missing = append(r.missing, path[:len(path)-1])
		return signatureData{}, nil
	}
	data := r.req(el, path, "data")
	sum := r.req(el, path, "checksum")
	if data == "" || sum == "" {
		return signatureData{}, nil
	}
	der, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return signatureData{}, []Error{{Code: codeSignatureFormat, Message: path + "data: not base64"}}
	}
	var errs []Error
	if n, err := strconv.ParseUint(sum, 10, 32); err != nil || uint32(n) != crc32.ChecksumIEEE(der) {
		errs = append(errs, Error{Code: codeValidation, Message: path + "checksum: not the decimal CRC32 of the signature"})
	}
	sd, err := cms.Parse(der)
	if err != nil {
		errs = append(errs, Error{Code: codeSignatureFormat, Message: path + "data: not a detached CMS SignedData with one signer"})
	}
	return signatureData{DER: der, Parsed: sd}, errs
}

// requestDigests is the digest of the file the request's signatures
// sign, per algorithm: what РЭМД registers and later compares the fetched
// file with. Signatures of one algorithm that digest different files are
// an error.
func requestDigests(req registerRequest) (map[signer.Algorithm][]byte, error) {
	out := map[signer.Algorithm][]byte{}
	all := make([]*cms.SignedData, 0, len(req.Signatures)+1)
	for _, s := range req.Signatures {
		all = append(all, s.Signature.Parsed)
	}
	if req.OrgSignature != nil {
		all = append(all, req.OrgSignature.Parsed)
	}
	for _, sd := range all {
		if sd == nil {
			continue
		}
		if d, ok := out[sd.Algorithm]; ok && !bytes.Equal(d, sd.MessageDigest) {
			return nil, fmt.Errorf("the signatures digest different files")
		}
		out[sd.Algorithm] = sd.MessageDigest
	}
	return out, nil
}
