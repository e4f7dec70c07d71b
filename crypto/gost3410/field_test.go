package gost3410

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// checkField checks every field operation against math/big on random
// and edge-case operands, for a modulus of each size, with the reduction
// newField picks for m and with Montgomery's (newMontField): for a
// pseudo-Mersenne m these are two different algorithms held to one oracle.
func checkField[E limbs](t *testing.T, m *big.Int) {
	t.Helper()
	for _, mk := range []struct {
		name string
		new  func(*big.Int) (*field[E], error)
	}{{"chosen", newField[E]}, {"montgomery", newMontField[E]}} {
		f, err := mk.new(m)
		if err != nil {
			t.Fatal(err)
		}
		if mk.name == "montgomery" && f.c != 0 {
			t.Fatal("newMontField picked the pseudo-Mersenne reduction")
		}
		checkFieldOps(t, f, m)
	}
}

func checkFieldOps[E limbs](t *testing.T, f *field[E], m *big.Int) {
	t.Helper()
	var e E
	top := new(big.Int).Lsh(big.NewInt(1), uint(64*len(e)))
	edge := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(2)), new(big.Int).Rsh(m, 1),
		// Words of all ones, where the reductions' carries run longest.
		new(big.Int).Mod(new(big.Int).Sub(top, big.NewInt(1)), m),
		new(big.Int).Mod(new(big.Int).Sub(new(big.Int).Rsh(top, 1), big.NewInt(1)), m),
		new(big.Int).Mod(new(big.Int).Sub(new(big.Int).Rsh(top, 64), big.NewInt(1)), m),
	}
	var vals []*big.Int
	vals = append(vals, edge...)
	for range 60 {
		v, _ := rand.Int(rand.Reader, m)
		vals = append(vals, v)
	}
	mod := func(v *big.Int) *big.Int { return v.Mod(v, m) }
	for _, x := range vals {
		for _, y := range vals[:len(vals)/2] {
			xm, ym := f.fromBig(x), f.fromBig(y)
			if got := f.toBig(&xm); got.Cmp(x) != 0 {
				t.Fatalf("round trip %x -> %x", x, got)
			}
			var z E
			f.mul(&z, &xm, &ym)
			if got, want := f.toBig(&z), mod(new(big.Int).Mul(x, y)); got.Cmp(want) != 0 {
				t.Fatalf("mul(%x, %x) = %x, want %x", x, y, got, want)
			}
			var zl E
			if f.c == 0 {
				f.mulLoop(&zl, &xm, &ym)
				if zl != z {
					t.Fatalf("mulLoop(%x, %x) differs from mul", x, y)
				}
			}
			f.add(&z, &xm, &ym)
			if got, want := f.toBig(&z), mod(new(big.Int).Add(x, y)); got.Cmp(want) != 0 {
				t.Fatalf("add(%x, %x) = %x, want %x", x, y, got, want)
			}
			if f.addLoop(&zl, &xm, &ym); zl != z {
				t.Fatalf("addLoop(%x, %x) differs from add", x, y)
			}
			f.sub(&z, &xm, &ym)
			if got, want := f.toBig(&z), mod(new(big.Int).Sub(x, y)); got.Cmp(want) != 0 {
				t.Fatalf("sub(%x, %x) = %x, want %x", x, y, got, want)
			}
			if f.subLoop(&zl, &xm, &ym); zl != z {
				t.Fatalf("subLoop(%x, %x) differs from sub", x, y)
			}
		}
		xm := f.fromBig(x)
		var z E
		f.sqr(&z, &xm)
		if got, want := f.toBig(&z), mod(new(big.Int).Mul(x, x)); got.Cmp(want) != 0 {
			t.Fatalf("sqr(%x) = %x, want %x", x, got, want)
		}
		f.neg(&z, &xm)
		if got, want := f.toBig(&z), mod(new(big.Int).Neg(x)); got.Cmp(want) != 0 {
			t.Fatalf("neg(%x) = %x, want %x", x, got, want)
		}
		f.inv(&z, &xm)
		want := new(big.Int).ModInverse(x, m)
		if want == nil {
			want = new(big.Int)
		}
		if got := f.toBig(&z); got.Cmp(want) != 0 {
			t.Fatalf("inv(%x) = %x, want %x", x, got, want)
		}
	}
}

func TestFieldAgainstBig(t *testing.T) {
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			for _, m := range []*big.Int{c.p, c.q} {
				if c.Size() == 32 {
					checkField[[4]uint64](t, m)
				} else {
					checkField[[8]uint64](t, m)
				}
			}
		})
	}
}

// BenchmarkFieldMul times one multiplication or squaring of each kind on
// a 256-bit prime of each form (CryptoPro B's p for Montgomery, 2^256 - 617
// for the pseudo-Mersenne reduction) and on a 512-bit one.
func BenchmarkFieldMul(b *testing.B) {
	for _, tc := range []struct {
		name  string
		curve *Curve
		op    func(f *field[[4]uint64], x, y *[4]uint64)
	}{
		{"256-mont-loop", cryptoProBParamSet, func(f *field[[4]uint64], x, y *[4]uint64) { f.mulLoop(x, x, y) }},
		{"256-mont-mul", cryptoProBParamSet, func(f *field[[4]uint64], x, y *[4]uint64) { f.mul(x, x, y) }},
		{"256-mont-sqr", cryptoProBParamSet, func(f *field[[4]uint64], x, _ *[4]uint64) { f.sqr(x, x) }},
		{"256-pm-mul", tc26256A, func(f *field[[4]uint64], x, y *[4]uint64) { f.mul(x, x, y) }},
		{"256-pm-sqr", tc26256A, func(f *field[[4]uint64], x, _ *[4]uint64) { f.sqr(x, x) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := newField[[4]uint64](tc.curve.p)
			if err != nil {
				b.Fatal(err)
			}
			x, y := f.fromBig(tc.curve.gx), f.fromBig(tc.curve.gy)
			report := testtool.ReportCPU(b)
			for b.Loop() {
				tc.op(f, &x, &y)
			}
			report()
		})
	}
	b.Run("512-mont-loop", func(b *testing.B) {
		f, _ := newField[[8]uint64](tc26512A.p)
		x := f.fromBig(tc26512A.gy)
		y := f.fromBig(tc26512A.gy)
		report := testtool.ReportCPU(b)
		for b.Loop() {
			f.mulLoop(&x, &x, &y)
		}
		report()
	})
	b.Run("512-mont-mul", func(b *testing.B) {
		f, _ := newField[[8]uint64](tc26512A.p)
		x := f.fromBig(tc26512A.gy)
		y := f.fromBig(tc26512A.gy)
		report := testtool.ReportCPU(b)
		for b.Loop() {
			f.mul(&x, &x, &y)
		}
		report()
	})
}

// TestGeneratedCodeUpToDate regenerates mont_gen.go and compares: the
// unrolled code must be what gen_mont.go writes (run go generate after
// changing it).
func TestGeneratedCodeUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), "mont_gen.go")
	if msg, err := exec.Command(goCmd, "run", "gen_mont.go", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("go run gen_mont.go: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("mont_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("mont_gen.go is stale: run go generate ./crypto/gost3410")
	}
}

// TestPseudoMersenneChosen pins which sets get the pseudo-Mersenne
// reduction, so that a change to its detection cannot silently send every
// set back to Montgomery (or a prime of another form to the wrong code).
func TestPseudoMersenneChosen(t *testing.T) {
	tests := []struct {
		curve *Curve
		c     uint64 // 0: Montgomery
	}{
		{tc26256A, 617}, {tc26256B, 617}, {cryptoProAParamSet, 617}, {cryptoProXchAParamSet, 617},
		{tc26256C, 0}, {tc26256D, 0}, {cryptoProBParamSet, 0}, {cryptoProCParamSet, 0}, {testParamSet256, 0},
		{tc26512A, 0}, {tc26512C, 0}, {tc26512B, 0}, {testParamSet512, 0}, // see pmfield.go
	}
	for _, tc := range tests {
		t.Run(tc.curve.Name, func(t *testing.T) {
			var got uint64
			switch o := tc.curve.fast.(type) {
			case *ecOps[[4]uint64]:
				got = o.f.c
			case *ecOps[[8]uint64]:
				got = o.f.c
			}
			if got != tc.c {
				t.Fatalf("c = %d, want %d", got, tc.c)
			}
		})
	}
}
