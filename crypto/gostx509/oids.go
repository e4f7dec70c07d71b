// Package gostx509 handles X.509 certificates, certificate revocation lists
// and keys with ГОСТ Р 34.10-2012 keys and signatures: the key and
// signature encodings of RFC 4491 and RFC 9215, PKCS#8 private keys as
// OpenSSL's gost engine writes them, the Russian subject attributes of a
// qualified certificate (СНИЛС, ИНН, ОГРН), chain verification to a
// configured set of trusted roots with CRLs, and a builder of ГОСТ-signed
// certificates and CRLs for tests and tools.
//
// Go's crypto/x509 parses these certificates but knows neither the key nor
// the signature algorithm: it leaves PublicKey nil and SignatureAlgorithm
// Unknown, and this package does the rest from the raw fields it keeps.
package gostx509

import "encoding/asn1"

// Algorithm identifiers of ГОСТ Р 34.10-2012 and 34.11-2012 (RFC 9215 §2,
// tc26 registry).
var (
	// OIDPublicKey256 is id-tc26-gost3410-12-256, a 256-bit public key.
	OIDPublicKey256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 1}
	// OIDPublicKey512 is id-tc26-gost3410-12-512, a 512-bit public key.
	OIDPublicKey512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 2}
	// OIDDigest256 is id-tc26-gost3411-12-256, Streebog-256.
	OIDDigest256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 2}
	// OIDDigest512 is id-tc26-gost3411-12-512, Streebog-512.
	OIDDigest512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 3}
	// OIDSignature256 is id-tc26-signwithdigest-gost3410-12-256.
	OIDSignature256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 3, 2}
	// OIDSignature512 is id-tc26-signwithdigest-gost3410-12-512.
	OIDSignature512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 3, 3}
)

// Algorithm identifiers of ECDSA P-256 with SHA-256 (RFC 5480, RFC 5758),
// the one non-ГОСТ algorithm the gateway signs with.
var (
	// OIDPublicKeyECDSA is id-ecPublicKey.
	OIDPublicKeyECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	// OIDCurveP256 is secp256r1 (prime256v1).
	OIDCurveP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	// OIDDigestSHA256 is id-sha256.
	OIDDigestSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	// OIDSignatureECDSASHA256 is ecdsa-with-SHA256.
	OIDSignatureECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// Subject attributes of Russian qualified certificates (приказ ФСБ России
// № 795), each a NumericString of digits.
var (
	// OIDSNILS is СНИЛС, the holder's insurance number, 11 digits.
	OIDSNILS = asn1.ObjectIdentifier{1, 2, 643, 100, 3}
	// OIDINN is ИНН of a person (12 digits; older certificates also carry
	// a legal entity's ИНН here, 10 digits, or 12 with two leading zeros).
	OIDINN = asn1.ObjectIdentifier{1, 2, 643, 3, 131, 1, 1}
	// OIDINNLE is ИНН ЮЛ, a legal entity's ИНН, 10 digits.
	OIDINNLE = asn1.ObjectIdentifier{1, 2, 643, 100, 4}
	// OIDOGRN is ОГРН, a legal entity's registration number, 13 digits.
	OIDOGRN = asn1.ObjectIdentifier{1, 2, 643, 100, 1}
	// OIDOGRNIP is ОГРНИП, a sole proprietor's registration number, 15 digits.
	OIDOGRNIP = asn1.ObjectIdentifier{1, 2, 643, 100, 5}
)

// X.520 attributes that crypto/x509's pkix.Name has no field for.
var (
	oidSurname    = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName  = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidTitle      = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidStreet     = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidEmail      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidCountry    = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidLocality   = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidProvince   = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidOrg        = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrgUnit    = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// Parameter sets whose SubjectPublicKeyInfo carries no digestParamSet, as
// RFC 9215 §4 has it and OpenSSL's gost engine writes: the tc26 256-bit sets
// and 512-bit set C. The CryptoPro sets and tc26 512-bit A and B carry it.
var paramSetsWithoutDigest = []asn1.ObjectIdentifier{
	{1, 2, 643, 7, 1, 2, 1, 1, 1},
	{1, 2, 643, 7, 1, 2, 1, 1, 2},
	{1, 2, 643, 7, 1, 2, 1, 1, 3},
	{1, 2, 643, 7, 1, 2, 1, 1, 4},
	{1, 2, 643, 7, 1, 2, 1, 2, 3},
}
