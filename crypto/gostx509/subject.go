package gostx509

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Subject is a certificate holder's name as a Russian qualified
// certificate carries it: the person's names, the organisation, and the
// registration numbers that identify them. Empty fields are absent.
type Subject struct {
	// CommonName (CN) is a person's full name or an organisation's name.
	CommonName string
	// Surname (SN) and GivenNames (GN: given name and patronymic) are a
	// person's names.
	Surname    string
	GivenNames string
	// Title is the holder's position (T), e.g. a doctor's speciality.
	Title string

	// Organization (O) and OrganizationalUnit (OU) are the employer.
	Organization       string
	OrganizationalUnit string
	// Country (C, two letters), Province (ST), Locality (L) and Street
	// are the address.
	Country  string
	Province string
	Locality string
	Street   string
	// Email is the emailAddress attribute.
	Email string

	// SNILS is the holder's СНИЛС, 11 digits.
	SNILS string
	// INN is a person's ИНН, 12 digits (10 for a legal entity in older
	// certificates).
	INN string
	// INNLE is a legal entity's ИНН (ИНН ЮЛ), 10 digits.
	INNLE string
	// OGRN is a legal entity's ОГРН, 13 digits.
	OGRN string
	// OGRNIP is a sole proprietor's ОГРНИП, 15 digits.
	OGRNIP string
}

// identifierAttr is one registration-number attribute: where it goes in
// Subject and the digit counts it may have.
type identifierAttr struct {
	oid     asn1.ObjectIdentifier
	name    string
	lengths []int
	field   func(*Subject) *string
}

var identifierAttrs = []identifierAttr{
	{OIDSNILS, "SNILS", []int{11}, func(s *Subject) *string { return &s.SNILS }},
	{OIDINN, "INN", []int{10, 12}, func(s *Subject) *string { return &s.INN }},
	{OIDINNLE, "INNLE", []int{10}, func(s *Subject) *string { return &s.INNLE }},
	{OIDOGRN, "OGRN", []int{13}, func(s *Subject) *string { return &s.OGRN }},
	{OIDOGRNIP, "OGRNIP", []int{15}, func(s *Subject) *string { return &s.OGRNIP }},
}

// textAttr is one name attribute and where it goes in Subject.
type textAttr struct {
	oid   asn1.ObjectIdentifier
	field func(*Subject) *string
}

// textAttrs are in the order a builder writes them, broad to narrow.
var textAttrs = []textAttr{
	{oidCountry, func(s *Subject) *string { return &s.Country }},
	{oidProvince, func(s *Subject) *string { return &s.Province }},
	{oidLocality, func(s *Subject) *string { return &s.Locality }},
	{oidStreet, func(s *Subject) *string { return &s.Street }},
	{oidOrg, func(s *Subject) *string { return &s.Organization }},
	{oidOrgUnit, func(s *Subject) *string { return &s.OrganizationalUnit }},
	{oidTitle, func(s *Subject) *string { return &s.Title }},
	{oidSurname, func(s *Subject) *string { return &s.Surname }},
	{oidGivenName, func(s *Subject) *string { return &s.GivenNames }},
	{oidCommonName, func(s *Subject) *string { return &s.CommonName }},
	{oidEmail, func(s *Subject) *string { return &s.Email }},
}

// SubjectOf returns the holder's name and identifiers from a certificate's
// subject. Of an attribute given more than once the first counts. A
// registration number that is not all digits of its length is an error
// wrapping ErrMalformedIdentifier (naming the attribute, not its value).
func SubjectOf(cert *x509.Certificate) (Subject, error) {
	if cert == nil {
		return Subject{}, fmt.Errorf("%w: nil certificate", ErrMalformed)
	}
	return SubjectOfName(cert.Subject)
}

// SubjectOfName is SubjectOf for a parsed name.
func SubjectOfName(name pkix.Name) (Subject, error) {
	var s Subject
	seen := make(map[string]bool)
	for _, atv := range name.Names {
		key := atv.Type.String()
		if seen[key] {
			continue
		}
		value, ok := atv.Value.(string)
		if !ok {
			continue
		}
		for _, a := range identifierAttrs {
			if a.oid.Equal(atv.Type) {
				seen[key] = true
				if !digitsOfLength(value, a.lengths) {
					return Subject{}, fmt.Errorf("%w: %s is not %v digits", ErrMalformedIdentifier, a.name, a.lengths)
				}
				*a.field(&s) = value
			}
		}
		for _, a := range textAttrs {
			if a.oid.Equal(atv.Type) {
				seen[key] = true
				*a.field(&s) = value
			}
		}
	}
	return s, nil
}

// digitsOfLength says whether s is ASCII digits only, of one of the lengths.
func digitsOfLength(s string, lengths []int) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, n := range lengths {
		if len(s) == n {
			return true
		}
	}
	return false
}

// RDNSequence returns the subject as a distinguished name, one attribute a
// RDN: registration numbers as NumericString (приказ ФСБ № 795), email as
// IA5String, the rest UTF8String. A malformed registration number is an
// error wrapping ErrMalformedIdentifier.
func (s Subject) RDNSequence() (pkix.RDNSequence, error) {
	var seq pkix.RDNSequence
	add := func(oid asn1.ObjectIdentifier, v any) {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}})
	}
	for _, a := range textAttrs {
		v := *a.field(&s)
		if v == "" {
			continue
		}
		tag := asn1.TagUTF8String
		switch {
		case a.oid.Equal(oidEmail):
			tag = asn1.TagIA5String
		case a.oid.Equal(oidCountry):
			tag = asn1.TagPrintableString
		}
		add(a.oid, asn1.RawValue{Tag: tag, Bytes: []byte(v)})
	}
	for _, a := range identifierAttrs {
		v := *a.field(&s)
		if v == "" {
			continue
		}
		if !digitsOfLength(v, a.lengths) {
			return nil, fmt.Errorf("%w: %s is not %v digits", ErrMalformedIdentifier, a.name, a.lengths)
		}
		add(a.oid, asn1.RawValue{Tag: asn1.TagNumericString, Bytes: []byte(v)})
	}
	return seq, nil
}
