package ident

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

type vectors struct {
	SNILS struct {
		Valid []struct {
			Input  string `json:"input"`
			Digits string `json:"digits"`
		} `json:"valid"`
		Invalid []struct {
			Input string `json:"input"`
			Why   string `json:"why"`
		} `json:"invalid"`
	} `json:"snils"`
	ENP struct {
		Valid []struct {
			Input string `json:"input"`
		} `json:"valid"`
		Invalid []struct {
			Input string `json:"input"`
			Why   string `json:"why"`
		} `json:"invalid"`
	} `json:"enp"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile(testtool.SharedFile(t, "testdata/identifiers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.SNILS.Valid) == 0 || len(v.SNILS.Invalid) == 0 || len(v.ENP.Valid) == 0 || len(v.ENP.Invalid) == 0 {
		t.Fatal("identifiers.json has empty vector lists")
	}
	return v
}

func TestSNILSVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.SNILS.Valid {
		got, err := NormalizeSNILS(tc.Input)
		if err != nil || got != tc.Digits {
			t.Errorf("NormalizeSNILS(%q) = %q, %v; want %q", tc.Input, got, err, tc.Digits)
		}
	}
	for _, tc := range v.SNILS.Invalid {
		got, err := NormalizeSNILS(tc.Input)
		if err == nil {
			t.Errorf("NormalizeSNILS(%q) = %q accepted; it is invalid (%s)", tc.Input, got, tc.Why)
			continue
		}
		wantErr := ErrFormat
		if tc.Why == "checksum" {
			wantErr = ErrChecksum
		}
		if !errors.Is(err, wantErr) {
			t.Errorf("NormalizeSNILS(%q) = %v, want %v (%s)", tc.Input, err, wantErr, tc.Why)
		}
	}
}

func TestSNILSCheckNumberRule(t *testing.T) {
	// The worked examples of EGISZ.md §2.1, one per branch of the rule.
	for _, tc := range []struct {
		sum, want int
	}{{95, 95}, {99, 99}, {100, 0}, {101, 0}, {165, 64}, {201, 0}, {202, 0}, {203, 1}} {
		if got := snilsCheck(tc.sum); got != tc.want {
			t.Errorf("snilsCheck(%d) = %d, want %d", tc.sum, got, tc.want)
		}
	}
}

func TestENPVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.ENP.Valid {
		if err := ValidENP(tc.Input); err != nil {
			t.Errorf("ValidENP(%q) = %v", tc.Input, err)
		}
	}
	for _, tc := range v.ENP.Invalid {
		err := ValidENP(tc.Input)
		wantErr := ErrFormat
		if tc.Why == "check digit" {
			wantErr = ErrChecksum
		}
		if !errors.Is(err, wantErr) {
			t.Errorf("ValidENP(%q) = %v, want %v (%s)", tc.Input, err, wantErr, tc.Why)
		}
	}
}

func TestMasking(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"112-233-445 95", "112-***-*** 95"},
		{"11223344595", "112-***-*** 95"},
		{"garbage", "***"},
		{"", ""},
	} {
		if got := MaskSNILS(tc.in); got != tc.want {
			t.Errorf("MaskSNILS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := MaskENP("5056410878123457"); got != "50************57" {
		t.Errorf("MaskENP = %q", got)
	}
	if strings.Contains(MaskSNILS("11223344595"), "233") {
		t.Error("masked SNILS keeps middle digits")
	}
}

func TestOIDsAndLocalIDs(t *testing.T) {
	for _, tc := range []struct {
		s             string
		oid, mo, dept bool
		kind          string
	}{
		{"1.2.643.5.1.13.13.12.1.42.202", true, true, true, ""},
		{"1.2.643.5.1.13.13.12.2.51.4977.0.2787.2107", true, false, true, ""},
		{"1.2.643.5.1.13.13.12.1.42.202.100.1.1.15", true, false, true, "15"},
		{"1.2.643.5.1.13.13.12.1.42.202.100.1.1.51", true, false, true, "51"},
		{"1.2.643.5.1.13.13.12.5.42.202", true, false, false, ""},
		{"1.2.643.05.1", false, false, false, ""},
		{"3.1", false, false, false, ""},
		{"1.2.643.", false, false, false, ""},
		{"", false, false, false, ""},
	} {
		if ValidOID(tc.s) != tc.oid || ValidMOOID(tc.s) != tc.mo || ValidDepartmentOID(tc.s) != tc.dept || LocalIDKind(tc.s) != tc.kind {
			t.Errorf("%q: oid %v mo %v dept %v kind %q; want %v %v %v %q", tc.s,
				ValidOID(tc.s), ValidMOOID(tc.s), ValidDepartmentOID(tc.s), LocalIDKind(tc.s), tc.oid, tc.mo, tc.dept, tc.kind)
		}
	}
}

func TestICD10(t *testing.T) {
	for s, want := range map[string]bool{"J10": true, "C50.2": true, "A83.12": true, "j10": false, "J1": false, "C50.": false, "C50.123": false, "Ж10": false} {
		if ValidICD10(s) != want {
			t.Errorf("ValidICD10(%q) = %v", s, !want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"  иванова-петрова  Алёна ", "ИВАНОВА-ПЕТРОВА АЛЕНА", true},
		{"Семёнов", "Семенов", true},
		{"Петров", "Петрова", false},
		{"Анна Мария", "Анна\tМария", true},
		{"Салтыков–Щедрин", "САЛТЫКОВ-ЩЕДРИН", true},
	} {
		if SameName(tc.a, tc.b) != tc.same {
			t.Errorf("SameName(%q, %q) = %v", tc.a, tc.b, !tc.same)
		}
	}
}

func TestUUID(t *testing.T) {
	if !ValidUUID("2b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11") || ValidUUID("2b1c6a0e6f0d4c439d0f2a7e5b1c9d11") || ValidUUID("zz1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11") {
		t.Error("UUID check wrong")
	}
}

func TestMakeSNILS(t *testing.T) {
	for _, n := range []int{112233445, 123456789, 50234316, 820981233, 999999999, 1001999} {
		s := MakeSNILS(n)
		if d, err := NormalizeSNILS(s); err != nil || d != s {
			t.Errorf("MakeSNILS(%d) = %q does not validate: %v", n, s, err)
		}
	}
	if MakeSNILS(112233445) != "11223344595" {
		t.Errorf("MakeSNILS(112233445) = %s", MakeSNILS(112233445))
	}
}

func TestMaskName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Петров", "П***"},
		{"  Алёна ", "А***"},
		{"Smith", "S***"},
		{"", ""},
		{"   ", ""},
	} {
		if got := MaskName(tc.in); got != tc.want {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
