package reasons

import (
	"testing"
	"unicode"
)

func TestCatalogRowsAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Default().All() {
		if seen[r.Code] {
			t.Errorf("%s listed twice", r.Code)
		}
		seen[r.Code] = true
		switch r.Owner {
		case Clinic, MIS, Integrator, Registry, Gateway:
		default:
			t.Errorf("%s: unknown owner %q", r.Code, r.Owner)
		}
		switch r.Action {
		case Park, Retry, Reconcile:
		default:
			t.Errorf("%s: unknown action %q", r.Code, r.Action)
		}
		if !hasCyrillic(r.RU) {
			t.Errorf("%s: the Russian text %q has no Cyrillic", r.Code, r.RU)
		}
		if !containsASCIIWord(r.EN) {
			t.Errorf("%s: the English text %q is missing", r.Code, r.EN)
		}
	}
}

func TestLookupFollowsTheDomain(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		code   string
		action Action
		owner  Owner
	}{
		{"CA_INACCESSIBILITY", Retry, Registry},                       // the one retryable signature code
		{"CANT_BUILD_CERT_CHAIN_TO_ACCREDITED_CA_CERT", Park, Clinic}, // other signature codes are not
		{"RATE_LIMIT", Retry, Registry},                               // retry after a minute
		{"NOT_UNIQUE_PROVIDED_ID", Reconcile, MIS},                    // already registered: success after reconcile
		{"XDSDuplicateUniqueIdInRegistry", Reconcile, MIS},            // the IEMK equivalent
		{"MIS_NOT_AVAILABLE", Retry, MIS},                             // file fetch: keep the callback up
		{"VALSYS_TIMEOUT", Retry, Registry},                           // family VALSYS_*
		{"INVALID_DOCTOR_POST", Park, Clinic},                         // family INVALID_DOCTOR_*
		{"RECIPIENT_SNILS_MISMATCH", Park, Clinic},                    // REMD's spelling of NSI's RECEPIENT_
		{"RECEPIENT_BIRTHDATE_MISMATCH", Park, Clinic},                // NSI's spelling
		{"FRLLO_UNKNOWN_SYSTEM", Park, Integrator},                    // the exact row beats the family
		{"FRLLO_RELISE_QTY_ERROR", Park, Clinic},                      // family FRLLO_*
		{SNILSChecksum, Park, Clinic},
	} {
		r, ok := c.Lookup(tc.code)
		if !ok {
			t.Errorf("%s: not in the catalog", tc.code)
			continue
		}
		if r.Action != tc.action || r.Owner != tc.owner {
			t.Errorf("%s: %s/%s, want %s/%s", tc.code, r.Action, r.Owner, tc.action, tc.owner)
		}
		if r.Code != tc.code {
			t.Errorf("%s: looked up as %s", tc.code, r.Code)
		}
	}
	if _, ok := c.Lookup("SOMETHING_NEW"); ok {
		t.Error("an unknown code was found")
	}
	if r := c.Resolve("SOMETHING_NEW"); r.Code != RegistryUnknownCode || r.Action != Park {
		t.Errorf("Resolve of an unknown code: %+v", r)
	}
}

func hasCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

func containsASCIIWord(s string) bool {
	for _, r := range s {
		if r < 128 && unicode.IsLetter(r) {
			return true
		}
	}
	return false
}
