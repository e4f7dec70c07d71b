package ident

import "testing"

// FuzzNormalizeSNILS: whatever is accepted comes out as 11 digits that are
// accepted again unchanged, and the mask never shows the middle digits.
func FuzzNormalizeSNILS(f *testing.F) {
	for _, s := range []string{"112-233-445 95", "11223344595", "001-001-998 47", "429-010-912-50", "", "１１２"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeSNILS(s)
		if err != nil {
			return
		}
		if len(d) != 11 || !allDigits(d) {
			t.Fatalf("NormalizeSNILS(%q) = %q", s, d)
		}
		if again, err := NormalizeSNILS(d); err != nil || again != d {
			t.Fatalf("normalized %q does not normalize to itself: %q %v", d, again, err)
		}
		if m := MaskSNILS(d); m[4:7] != "***" || m[8:11] != "***" {
			t.Fatalf("mask %q shows middle digits", m)
		}
	})
}

// FuzzValidENP: an accepted ЕНП is 16 digits and changing its check digit
// makes it invalid.
func FuzzValidENP(f *testing.F) {
	f.Add("5056410878123457")
	f.Add("7700000000000016")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidENP(s) != nil {
			return
		}
		other := s[:15] + string('0'+(s[15]-'0'+1)%10)
		if ValidENP(other) == nil {
			t.Fatalf("%q and %q both valid", s, other)
		}
	})
}
