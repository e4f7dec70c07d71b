package pkcs12

import "encoding/asn1"

// Object identifiers this package reads. Sources: RFC 7292 (PKCS #12),
// RFC 8018 (PKCS #5: PBES2, PBKDF2 and its PRFs), RFC 5652 (CMS content
// types), NIST CSOR (AES, SHA-2), RFC 7836 and R 50.1.113-2016 (Streebog
// HMAC), RFC 6986/RFC 9215 (Streebog digests) and RFC 4357 (GOST 28147-89).
var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}

	oidKeyBag              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidPKCS8ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}

	oidPBES2                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBEWithSHAAnd3KeyTDES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	// id-tc26-hmac-gost-3411-12-256 and -512.
	oidHMACStreebog256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 4, 1}
	oidHMACStreebog512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 4, 2}

	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}

	oidSHA1        = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidStreebog256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 2}
	oidStreebog512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 2, 3}
)

// knownNames names algorithms this package recognises but does not
// implement, so that a refusal says what the file asked for.
var knownNames = map[string]string{
	"1.2.643.2.2.21":            "GOST 28147-89 (gost89)",
	"1.2.643.7.1.1.5.1.1":       "Magma CTR-ACPKM",
	"1.2.643.7.1.1.5.1.2":       "Magma CTR-ACPKM-OMAC",
	"1.2.643.7.1.1.5.2.1":       "Kuznyechik CTR-ACPKM",
	"1.2.643.7.1.1.5.2.2":       "Kuznyechik CTR-ACPKM-OMAC",
	"1.2.643.2.2.9":             "GOST R 34.11-94",
	"1.2.840.113549.1.12.1.1":   "pbeWithSHAAnd128BitRC4",
	"1.2.840.113549.1.12.1.2":   "pbeWithSHAAnd40BitRC4",
	"1.2.840.113549.1.12.1.4":   "pbeWithSHAAnd2-KeyTripleDES-CBC",
	"1.2.840.113549.1.12.1.5":   "pbeWithSHAAnd128BitRC2-CBC",
	"1.2.840.113549.1.12.1.6":   "pbeWithSHAAnd40BitRC2-CBC",
	"1.2.840.113549.1.5.3":      "pbeWithMD5AndDES-CBC",
	"1.2.840.113549.1.5.10":     "pbeWithSHA1AndDES-CBC",
	"1.2.840.113549.3.7":        "des-ede3-cbc",
	"1.2.840.113549.2.5":        "md5",
	"1.2.410.200004.1.4":        "seed-cbc",
	"1.2.392.200011.61.1.1.1.2": "camellia128-cbc",
	"2.16.840.1.101.3.4.1.6":    "aes128-GCM",
	"2.16.840.1.101.3.4.1.46":   "aes256-GCM",
}
