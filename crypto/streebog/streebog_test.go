package streebog

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// reversed decodes a hexadecimal number written as RFC 6986 writes its
// examples (most significant byte first) into the byte string it stands
// for (least significant byte first), which is what Write takes and Sum
// returns.
func reversed(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// RFC 6986 §10 examples, copied as printed there.
const (
	rfcM1 = "323130393837363534333231303938373635343332313039383736353433323130393837363534333231303938373635343332313039383736353433323130"
	rfcM2 = "fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0eeec20f120faf2fee5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1"

	rfcH1x512 = "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b"
	rfcH1x256 = "00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d"
	rfcH2x512 = "28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f037613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e"
	rfcH2x256 = "508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d"
)

func TestRFC6986Vectors(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		newHash func() hash.Hash
		want    string
	}{
		{"M1/512", rfcM1, New512, rfcH1x512},
		{"M1/256", rfcM1, New256, rfcH1x256},
		{"M2/512", rfcM2, New512, rfcH2x512},
		{"M2/256", rfcM2, New256, rfcH2x256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := reversed(t, tc.msg)
			want := reversed(t, tc.want)
			h := tc.newHash()
			h.Write(msg)
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("digest %x, want %x", got, want)
			}
			// Byte-at-a-time writes must agree with one write.
			h.Reset()
			for i := range msg {
				h.Write(msg[i : i+1])
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("streamed digest %x, want %x", got, want)
			}
		})
	}
	// M1 is the ASCII string "0123...012" read as bytes.
	if got := string(reversed(t, rfcM1)); got != "012345678901234567890123456789012345678901234567890123456789012" {
		t.Fatalf("M1 decodes to %q", got)
	}
	m1 := reversed(t, rfcM1)
	if s := Sum256(m1); !bytes.Equal(s[:], reversed(t, rfcH1x256)) {
		t.Fatalf("Sum256(M1) = %x", s)
	}
	if s := Sum512(m1); !bytes.Equal(s[:], reversed(t, rfcH1x512)) {
		t.Fatalf("Sum512(M1) = %x", s)
	}
}

func TestSumDoesNotChangeState(t *testing.T) {
	data := make([]byte, 200)
	rand.Read(data)
	h := New256()
	h.Write(data[:100])
	first := h.Sum(nil)
	if again := h.Sum(nil); !bytes.Equal(first, again) {
		t.Fatal("second Sum differs from the first")
	}
	h.Write(data[100:])
	if got, want := h.Sum(nil), Sum256(data); !bytes.Equal(got, want[:]) {
		t.Fatalf("Write after Sum: %x, want %x", got, want)
	}
	if h.Size() != Size256 || New512().Size() != Size512 || h.BlockSize() != BlockSize {
		t.Fatal("wrong Size or BlockSize")
	}
}

func TestSplitWrites(t *testing.T) {
	data := make([]byte, 1000)
	rand.Read(data)
	want := Sum512(data)
	for _, chunk := range []int{1, 7, 63, 64, 65, 128, 999} {
		h := New512()
		for p := data; len(p) > 0; {
			n := min(chunk, len(p))
			h.Write(p[:n])
			p = p[n:]
		}
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("chunk %d: %x, want %x", chunk, got, want)
		}
	}
}

func TestAgainstOpenSSL(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 1000, 100 << 10} {
		data := make([]byte, n)
		rand.Read(data)
		file := filepath.Join(dir, fmt.Sprintf("in-%d", n))
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []struct {
			md  string
			sum func([]byte) []byte
		}{
			{"md_gost12_256", func(b []byte) []byte { s := Sum256(b); return s[:] }},
			{"md_gost12_512", func(b []byte) []byte { s := Sum512(b); return s[:] }},
		} {
			out, err := exec.Command("openssl", "dgst", "-engine", "gost", "-"+alg.md, "-binary", file).Output()
			if err != nil {
				t.Fatalf("openssl dgst -%s on %d bytes: %v", alg.md, n, err)
			}
			if got := alg.sum(data); !bytes.Equal(got, out) {
				t.Errorf("%s of %d bytes: ours %x, openssl %x", alg.md, n, got, out)
			}
		}
	}
}

func BenchmarkHash(b *testing.B) {
	for _, size := range []int{64, 1024, 64 << 10} {
		data := make([]byte, size)
		for _, alg := range []struct {
			name string
			new  func() hash.Hash
		}{
			{"streebog256", New256},
			{"streebog512", New512},
			{"sha256", sha256.New},
		} {
			b.Run(fmt.Sprintf("%s/%d", alg.name, size), func(b *testing.B) {
				h := alg.new()
				out := make([]byte, 0, 64)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					h.Reset()
					h.Write(data)
					out = h.Sum(out[:0])
				}
			})
		}
	}
}
