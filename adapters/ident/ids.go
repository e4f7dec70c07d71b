package ident

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidENP reports ErrFormat for anything but 16 ASCII digits and
// ErrChecksum when the 16th digit is not the check digit of the first 15.
func ValidENP(s string) error {
	if len(s) != 16 || !allDigits(s) {
		return ErrFormat
	}
	if enpCheckDigit(s[:15]) != s[15] {
		return ErrChecksum
	}
	return nil
}

// enpCheckDigit follows EGISZ.md §2.2: walking indexes 14 down to 0, digits
// at even indexes form N and at odd indexes form C; the digits of
// C followed by decimal(N*2) are summed; the check is (10 - sum%10) % 10.
func enpCheckDigit(body string) byte {
	var n, c []byte
	for i := 14; i >= 0; i-- {
		if i%2 == 0 {
			n = append(n, body[i])
		} else {
			c = append(c, body[i])
		}
	}
	// N has 8 digits, so N*2 fits easily in a uint64.
	var nv uint64
	for _, d := range n {
		nv = nv*10 + uint64(d-'0')
	}
	sum := 0
	for _, d := range c {
		sum += int(d - '0')
	}
	for v := nv * 2; v > 0; v /= 10 {
		sum += int(v % 10)
	}
	return byte('0' + (10-sum%10)%10)
}

var (
	icd10Re = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9]{1,2})?$`)
	uuidRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
)

// frmoRoot is the arc under which ФРМО registers organizations.
const frmoRoot = "1.2.643.5.1.13.13.12."

// ValidOID reports whether s is an OID, the schematron's
// ^[0-2](\.([1-9][0-9]*|0))+$: dot-separated numbers without leading
// zeros, first arc 0–2, at least two arcs. (Hand-written: it runs for every
// identifier of every event, and a regexp costs ten times as much.)
func ValidOID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.' {
		return false
	}
	arcStart := 2
	for i := 2; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
			continue
		}
		n := i - arcStart
		if n == 0 || (n > 1 && s[arcStart] == '0') {
			return false
		}
		arcStart = i + 1
	}
	return true
}

// ValidMOOID reports whether s has the shape of a medical organization's
// OID in ФРМО: 1.2.643.5.1.13.13.12.<1-4>.<region, 1-2 digits>.<number, 1-6 digits>.
func ValidMOOID(s string) bool {
	arcs, ok := frmoArcs(s)
	return ok && len(arcs) == 3 && len(arcs[2]) <= 6
}

// ValidDepartmentOID reports whether s has the shape of an ФРМО OID of an
// organization or one of its departments (more arcs below the region).
func ValidDepartmentOID(s string) bool {
	arcs, ok := frmoArcs(s)
	return ok && len(arcs) >= 3
}

// frmoArcs returns the arcs after 1.2.643.5.1.13.13.12 when s is an OID
// under it with a kind arc 1–4 and a one- or two-digit region arc.
func frmoArcs(s string) ([]string, bool) {
	if !strings.HasPrefix(s, frmoRoot) || !ValidOID(s) {
		return nil, false
	}
	arcs := strings.Split(s[len(frmoRoot):], ".")
	if len(arcs) < 2 || len(arcs[0]) != 1 || arcs[0][0] < '1' || arcs[0][0] > '4' || len(arcs[1]) > 2 {
		return nil, false
	}
	return arcs, true
}

// MIS-local identifier kinds: the last arc of <MO OID>.100.<mis>.<inst>.<kind>.
const (
	LocalPatient  = "10"
	LocalCase     = "15"
	LocalCard     = "16" // .16 and .17 are both medical cards; the sources disagree which is which
	LocalCardAlt  = "17"
	LocalSet      = "50"
	LocalDocument = "51"
	LocalSample   = "66"
	LocalEmployee = "70"
)

// LocalIDKind returns the kind suffix of a MIS-local OID root
// (<MO OID>.100.<НомерМИС>.<НомерЭкзМИС>.<suffix>), or "" when the root has
// not that shape.
func LocalIDKind(root string) string {
	if !ValidOID(root) {
		return ""
	}
	i := strings.Index(root, ".100.")
	if i < 0 {
		return ""
	}
	rest := strings.Split(root[i+len(".100."):], ".")
	if len(rest) != 3 {
		return ""
	}
	return rest[2]
}

// ValidICD10 checks the shape of an ICD-10 code (J06, C50.2, A83.12).
// Membership in NSI 1.2.643.5.1.13.13.11.1005 is the registry's check.
func ValidICD10(s string) bool { return icd10Re.MatchString(s) }

// ValidUUID reports whether s is an RFC 4122 UUID in its text form.
func ValidUUID(s string) bool { return uuidRe.MatchString(s) }

// NormalizeName returns a personal name in the form used for comparison:
// upper case, ё as Е, hyphens kept, runs of spaces folded, ends trimmed.
// "  иванова-петрова  Алёна " and "ИВАНОВА-ПЕТРОВА АЛЕНА" compare equal.
func NormalizeName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r == 'ё' || r == 'Ё':
			r = 'Е'
		case r == '‐' || r == '–' || r == '—':
			r = '-'
		default:
			r = unicode.ToUpper(r)
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MaskName masks a personal name for display: its first letter and ***
// ("Петров" is П***). Empty stays empty.
func MaskName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "***"
}

// HashUUID is an id in a UUID's text form derived from name by SHA-256
// (the version and variant digits set as in a name-based UUID): the same
// name always gets the same id, for records written twice to carry one
// ce_id.
func HashUUID(name string) string {
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-5" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// SameName compares two names as a registry would match them.
func SameName(a, b string) bool { return NormalizeName(a) == NormalizeName(b) }

// ValidRegionCode reports whether s is a region code (NSI
// 1.2.643.5.1.13.13.99.2.20): one to three digits, not zero.
func ValidRegionCode(s string) bool {
	return len(s) >= 1 && len(s) <= 3 && allDigits(s) && strings.Trim(s, "0") != ""
}
