package gost3410

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fieldOracle checks every field operation against math/big on random
// and edge-case operands, for a modulus of each size.
func checkField[E limbs](t *testing.T, m *big.Int) {
	t.Helper()
	f, err := newField[E](m)
	if err != nil {
		t.Fatal(err)
	}
	edge := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(2)), new(big.Int).Rsh(m, 1)}
	var vals []*big.Int
	vals = append(vals, edge...)
	for range 40 {
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
			f.mulLoop(&zl, &xm, &ym)
			if zl != z {
				t.Fatalf("mulLoop(%x, %x) differs from mul", x, y)
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

func BenchmarkFieldMul(b *testing.B) {
	b.Run("256-loop", func(b *testing.B) {
		f, _ := newField[[4]uint64](tc26256A.p)
		x := f.fromBig(tc26256A.gx)
		y := f.fromBig(tc26256A.gy)
		for b.Loop() {
			f.mulLoop(&x, &x, &y)
		}
	})
	b.Run("256", func(b *testing.B) {
		f, _ := newField[[4]uint64](tc26256A.p)
		x := f.fromBig(tc26256A.gx)
		y := f.fromBig(tc26256A.gy)
		for b.Loop() {
			f.mul(&x, &x, &y)
		}
	})
	b.Run("512-loop", func(b *testing.B) {
		f, _ := newField[[8]uint64](tc26512A.p)
		x := f.fromBig(tc26512A.gy)
		y := f.fromBig(tc26512A.gy)
		for b.Loop() {
			f.mulLoop(&x, &x, &y)
		}
	})
	b.Run("512", func(b *testing.B) {
		f, _ := newField[[8]uint64](tc26512A.p)
		x := f.fromBig(tc26512A.gy)
		y := f.fromBig(tc26512A.gy)
		for b.Loop() {
			f.mul(&x, &x, &y)
		}
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
