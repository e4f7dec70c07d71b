package remd

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// RegisterDocumentRequest is registerDocument's body (ElemRegisterRequest
// in NamespaceService), fields in the order of PROTOCOLS.md §2.2. Its xml
// tags are the one place the field names are spelled: the gateway writes
// it, the emulator reads it.
type RegisterDocumentRequest struct {
	XMLName            xml.Name
	LocalUID           string              `xml:"localUid"`
	Kind               string              `xml:"kind"`
	DocumentNumber     string              `xml:"documentNumber,omitempty"`
	CreationDateTime   string              `xml:"creationDateTime"`
	Organization       string              `xml:"organization"`
	Department         string              `xml:"department,omitempty"`
	Patient            Patient             `xml:"patient"`
	PersonalSignatures []PersonalSignature `xml:"personalSignatures>personalSignature"`
	OrgSignature       *Signature          `xml:"orgSignature,omitempty"`
	Associations       *Associations       `xml:"associations,omitempty"`
}

// Patient is the request's patient [M1; A]: localId?, snils? (11 digits),
// familyName, givenName, patronymic?, birthDate (YYYY-MM-DD), gender
// (GenderMale, GenderFemale).
type Patient struct {
	LocalID    string `xml:"localId,omitempty"`
	SNILS      string `xml:"snils,omitempty"`
	FamilyName string `xml:"familyName"`
	GivenName  string `xml:"givenName"`
	Patronymic string `xml:"patronymic,omitempty"`
	BirthDate  string `xml:"birthDate"`
	Gender     string `xml:"gender"`
}

// PersonalSignature is one worker's signature of the document [KT2].
type PersonalSignature struct {
	Signer    Signer     `xml:"signer"`
	Signature *Signature `xml:"signature,omitempty"`
	// Description is free text [KT2: «Подпись сотрудника»].
	Description string `xml:"description,omitempty"`
}

// Signer is the worker who signed [KT2]: names, СНИЛС (11 digits), role,
// position (НСИ 1.2.643.5.1.13.13.11.1002) and speciality (НСИ
// 1.2.643.5.1.13.13.11.1066) as coded values.
type Signer struct {
	LocalID    string `xml:"localId,omitempty"`
	Role       *Coded `xml:"role,omitempty"`
	LastName   string `xml:"lastName"`
	FirstName  string `xml:"firstName"`
	MiddleName string `xml:"middleName,omitempty"`
	SNILS      string `xml:"snils"`
	Position   *Coded `xml:"position,omitempty"`
	Speciality *Coded `xml:"speciality,omitempty"`
	Department string `xml:"department,omitempty"`
}

// Coded is a code with its НСИ version: <role version="2.4">code</role>
// (PROTOCOLS.md §2.2, inferred from KT2's {"$", "@version"}).
type Coded struct {
	Version string `xml:"version,attr,omitempty"`
	Code    string `xml:",chardata"`
}

// Signature is a detached CMS signature as the request carries it: its
// DER in base64 and its Checksum.
type Signature struct {
	Data     string `xml:"data"`
	Checksum string `xml:"checksum"`
}

// Associations are the document's links to registered ones (a new
// version to the version it replaces), from the event's associations:
// the MIS names the target by the emdrId the status topic gave it. The
// element is left out when there are none (encoding/xml writes the parent
// of an empty a>b list).
type Associations struct {
	Association []Association `xml:"association"`
}

// Association links the document to another registered one: target is
// its emdrId, type a code of НСИ 1.2.643.5.1.13.13.99.2.122 [KT2; A].
type Association struct {
	Target string `xml:"target"`
	Type   string `xml:"type"`
}

// ErrUnbuildable marks an outbound event the request cannot be made of
// (a missing or malformed field). Its texts name fields, never values.
var ErrUnbuildable = errors.New("remd: event cannot be registered")

// newSignature is the request's form of a detached CMS signature.
func newSignature(der []byte) *Signature {
	return &Signature{Data: base64.StdEncoding.EncodeToString(der), Checksum: Checksum(der)}
}

// documentRequest is the registerDocument request of a signed СЭМД.
func documentRequest(ev *topics.DocumentEvent) (*RegisterDocumentRequest, error) {
	if ev.LocalUID == "" || ev.Kind == "" || ev.CreatedAt == "" || ev.MOOID == "" {
		return nil, fmt.Errorf("document: local_uid, kind, created_at and mo_oid are required: %w", ErrUnbuildable)
	}
	p, err := patient(&ev.Patient)
	if err != nil {
		return nil, err
	}
	req := &RegisterDocumentRequest{
		XMLName:  xml.Name{Space: NamespaceService, Local: ElemRegisterRequest},
		LocalUID: ev.LocalUID, Kind: ev.Kind, DocumentNumber: ev.Number, CreationDateTime: string(ev.CreatedAt),
		Organization: ev.MOOID, Department: ev.DepartmentOID, Patient: p,
	}
	for i := range ev.Signers {
		s := &ev.Signers[i]
		if len(s.Signature) == 0 {
			return nil, fmt.Errorf("document: signers[%d].signature is empty: %w", i, ErrUnbuildable)
		}
		if s.Role == RoleOrganization {
			if req.OrgSignature != nil {
				return nil, fmt.Errorf("document: signers[%d]: a second organization signature: %w", i, ErrUnbuildable)
			}
			req.OrgSignature = newSignature(s.Signature)
			continue
		}
		if s.Person == nil {
			return nil, fmt.Errorf("document: signers[%d].person is required for role %q: %w", i, s.Role, ErrUnbuildable)
		}
		sg, err := signerOf(s.Person, s.Role)
		if err != nil {
			return nil, fmt.Errorf("document: signers[%d]: %w", i, err)
		}
		req.PersonalSignatures = append(req.PersonalSignatures, PersonalSignature{Signer: sg, Signature: newSignature(s.Signature)})
	}
	if len(req.PersonalSignatures) == 0 {
		return nil, fmt.Errorf("document: no personal signature: %w", ErrUnbuildable)
	}
	for i, a := range ev.Associations {
		if a.EMDRID == "" || a.Type == "" {
			return nil, fmt.Errorf("document: associations[%d]: emdr_id and type are required: %w", i, ErrUnbuildable)
		}
		if req.Associations == nil {
			req.Associations = &Associations{}
		}
		req.Associations.Association = append(req.Associations.Association, Association{Target: a.EMDRID, Type: a.Type})
	}
	return req, nil
}

// patient is the request's patient of an event's.
func patient(p *topics.Patient) (Patient, error) {
	out := Patient{LocalID: p.LocalID, FamilyName: p.FamilyName, GivenName: p.GivenName, Patronymic: p.Patronymic, BirthDate: string(p.BirthDate)}
	switch p.Sex {
	case "male":
		out.Gender = GenderMale
	case "female":
		out.Gender = GenderFemale
	default:
		return Patient{}, fmt.Errorf("patient.sex is neither male nor female: %w", ErrUnbuildable)
	}
	if p.SNILS != "" {
		d, err := ident.NormalizeSNILS(p.SNILS)
		if err != nil {
			return Patient{}, fmt.Errorf("patient.snils: %w: %w", err, ErrUnbuildable)
		}
		out.SNILS = d
	}
	if out.FamilyName == "" || out.GivenName == "" || out.BirthDate == "" {
		return Patient{}, fmt.Errorf("patient: family_name, given_name and birth_date are required: %w", ErrUnbuildable)
	}
	return out, nil
}

// signerOf is the request's signer of a worker signing in role.
func signerOf(p *topics.Person, role string) (Signer, error) {
	snils, err := ident.NormalizeSNILS(p.SNILS)
	if err != nil {
		return Signer{}, fmt.Errorf("person.snils: %w: %w", err, ErrUnbuildable)
	}
	if p.FamilyName == "" || p.GivenName == "" {
		return Signer{}, fmt.Errorf("person: family_name and given_name are required: %w", ErrUnbuildable)
	}
	s := Signer{Role: &Coded{Code: role}, LastName: p.FamilyName, FirstName: p.GivenName, MiddleName: p.Patronymic, SNILS: snils}
	if p.PostCode != "" {
		s.Position = &Coded{Code: p.PostCode}
	}
	if p.SpecialtyCode != "" {
		s.Speciality = &Coded{Code: p.SpecialtyCode}
	}
	return s, nil
}

// requestOf reads the outbound record's event into its registerDocument
// request. Only documents go to РЭМД: a lab result carries no signed
// lab protocol (that comes as a document of kind 186).
func requestOf(ev topics.OutboundEvent, raw json.RawMessage) (*RegisterDocumentRequest, error) {
	switch ev.Kind {
	case "document":
		var doc topics.DocumentEvent
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("document event: %w", err)
		}
		return documentRequest(&doc)
	}
	return nil, fmt.Errorf("РЭМД takes no %s events: %w", ev.Kind, ErrUnbuildable)
}

// marshal writes a body element: one element declaring its own default
// namespace, as wssec.Sign takes a body.
func marshal(v any) ([]byte, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("write %T: %w", v, err)
	}
	return b, nil
}
