package pkcs12

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// keyAndCert makes a key and a self-signed certificate with openssl and
// returns the key's PKCS #8 DER and the certificate's DER.
func keyAndCert(t *testing.T, dir, kind string) (keyDER, certDER []byte) {
	t.Helper()
	var engine []string
	switch kind {
	case "ec":
		run(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
	case "gost256":
		engine = []string{"-engine", "gost"}
		run(t, dir, "genpkey", "-engine", "gost", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", "key.pem")
	case "gost512":
		engine = []string{"-engine", "gost"}
		run(t, dir, "genpkey", "-engine", "gost", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:A", "-out", "key.pem")
	}
	run(t, dir, append(append([]string{"req"}, engine...), "-new", "-x509", "-key", "key.pem", "-subj", "/CN=pkcs12 test", "-days", "2", "-out", "cert.pem")...)
	return pemBlock(t, filepath.Join(dir, "key.pem")), pemBlock(t, filepath.Join(dir, "cert.pem"))
}

func pemBlock(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	return b.Bytes
}

func TestDecodeOpenSSLFiles(t *testing.T) {
	testtool.Require(t, "openssl")
	tests := []struct {
		name     string
		kind     string
		password string
		args     []string // extra `openssl pkcs12 -export` arguments
	}{
		{"OpenSSL 3 default, EC key", "ec", "secret", nil},
		{"non-ASCII password", "ec", "пароль-ß", nil},
		{"empty password", "ec", "", nil},
		{"legacy 3DES with SHA-1 MAC", "ec", "secret", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
		{"AES-128 and SHA-512 MAC", "ec", "secret", []string{"-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC", "-macalg", "sha512"}},
		{"unencrypted bags", "ec", "secret", []string{"-keypbe", "NONE", "-certpbe", "NONE"}},
		{"no MAC", "ec", "secret", []string{"-nomac"}},
		{"many iterations", "ec", "secret", []string{"-iter", "50000"}},
		{"ГОСТ 256 default", "gost256", "secret", nil},
		{"ГОСТ 512 default", "gost512", "secret", nil},
		{"ГОСТ MAC Streebog-256", "gost256", "secret", []string{"-macalg", "md_gost12_256"}},
		{"ГОСТ MAC Streebog-512", "gost512", "secret", []string{"-macalg", "md_gost12_512"}},
		{"ГОСТ MAC, non-ASCII password", "gost256", "пароль", []string{"-macalg", "md_gost12_256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gost := strings.HasPrefix(tc.kind, "gost")
			requireOpenSSL(t, gost)
			dir := t.TempDir()
			keyDER, certDER := keyAndCert(t, dir, tc.kind)
			args := []string{"pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "out.p12", "-passout", "pass:" + tc.password}
			if gost {
				args = append(args, "-engine", "gost")
			}
			run(t, dir, append(args, tc.args...)...)
			data, err := os.ReadFile(filepath.Join(dir, "out.p12"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, tc.password)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.PrivateKeys) != 1 || !bytes.Equal(got.PrivateKeys[0], keyDER) {
				t.Errorf("keys: got %d, first equal to the PEM key: %v", len(got.PrivateKeys), len(got.PrivateKeys) > 0 && bytes.Equal(got.PrivateKeys[0], keyDER))
			}
			if len(got.Certificates) != 1 || !bytes.Equal(got.Certificates[0], certDER) {
				t.Fatalf("certificates: got %d, want the one given", len(got.Certificates))
			}
			if _, err := x509.ParseCertificate(got.Certificates[0]); err != nil {
				t.Errorf("certificate does not parse: %v", err)
			}

			if tc.password != "" {
				_, err = Decode(data, tc.password+"x")
				if !errors.Is(err, ErrIncorrectPassword) {
					t.Errorf("wrong password: got %v, want ErrIncorrectPassword", err)
				}
				if err != nil && strings.Contains(err.Error(), tc.password) {
					t.Errorf("error text contains the password: %v", err)
				}
			}
		})
	}
}

func TestDecodeRefusesUnsupportedSchemes(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	tests := []struct {
		name    string
		args    []string
		wantOID string
	}{
		{"gost89 PBES2 cipher", []string{"-keypbe", "gost89", "-certpbe", "gost89"}, "1.2.643.2.2.21"},
		{"kuznyechik-ctr-acpkm PBES2 cipher", []string{"-keypbe", "kuznyechik-ctr-acpkm", "-certpbe", "kuznyechik-ctr-acpkm"}, "1.2.643.7.1.1.5.2.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keyAndCert(t, dir, "gost256")
			run(t, dir, append([]string{"pkcs12", "-engine", "gost", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "out.p12", "-passout", "pass:secret"}, tc.args...)...)
			data, err := os.ReadFile(filepath.Join(dir, "out.p12"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(data, "secret")
			var ue *UnsupportedAlgorithmError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want UnsupportedAlgorithmError", err)
			}
			if ue.OID.String() != tc.wantOID || ue.Usage != "PBES2 cipher" {
				t.Errorf("got %s %s, want PBES2 cipher %s", ue.Usage, ue.OID, tc.wantOID)
			}
			if !strings.Contains(err.Error(), tc.wantOID) {
				t.Errorf("error %q does not name the OID", err)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	testtool.Require(t, "openssl")
	dir := t.TempDir()
	keyAndCert(t, dir, "ec")
	run(t, dir, "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "out.p12", "-passout", "pass:secret")
	good, err := os.ReadFile(filepath.Join(dir, "out.p12"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"PEM instead of DER", []byte("-----BEGIN PKCS12-----\n"), ErrMalformed},
		{"truncated", good[:len(good)-10], ErrMalformed},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrMalformed},
		// A flipped byte inside the MAC-protected content fails the MAC,
		// which cannot tell corruption from a wrong password.
		{"flipped byte", flipped, ErrIncorrectPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data, "secret")
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Decode(data, "secret") // must not panic or hang
	})
}

func TestDecryptPrivateKeyInfo(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	keyDER, _ := keyAndCert(t, dir, "gost256")
	tests := []struct {
		name    string
		args    []string // openssl pkcs8 -topk8 arguments
		wantOID string   // an UnsupportedAlgorithmError for this OID
	}{
		{"PBES2 AES-256 HMAC-SHA-256", []string{"-v2", "aes-256-cbc"}, ""},
		{"PBES2 AES-128 HMAC-SHA-1", []string{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"}, ""},
		{"PBES2 AES-256 HMAC-Streebog-256", []string{"-v2", "aes-256-cbc", "-v2prf", "id-tc26-hmac-gost-3411-2012-256"}, ""},
		{"PBES2 AES-256 HMAC-Streebog-512", []string{"-v2", "aes-256-cbc", "-v2prf", "id-tc26-hmac-gost-3411-2012-512"}, ""},
		{"PKCS #12 PBE 3DES", []string{"-v1", "PBE-SHA1-3DES"}, ""},
		{"PBES2 3DES cipher", []string{"-v2", "des3"}, "1.2.840.113549.3.7"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := fmt.Sprintf("enc%d.pem", i)
			run(t, dir, append([]string{"pkcs8", "-engine", "gost", "-topk8", "-in", "key.pem", "-passout", "pass:k3y-pass", "-out", out}, tc.args...)...)
			der := pemBlock(t, filepath.Join(dir, out))
			got, err := DecryptPrivateKeyInfo(der, "k3y-pass")
			if tc.wantOID != "" {
				var ue *UnsupportedAlgorithmError
				if !errors.As(err, &ue) || ue.OID.String() != tc.wantOID {
					t.Fatalf("got %v, want an UnsupportedAlgorithmError for %s", err, tc.wantOID)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecryptPrivateKeyInfo: %v", err)
			}
			if !bytes.Equal(got, keyDER) {
				t.Fatal("decrypted key differs from the key openssl encrypted")
			}
			if _, err := DecryptPrivateKeyInfo(der, "other-pass"); !errors.Is(err, ErrIncorrectPassword) {
				t.Errorf("wrong password: got %v, want ErrIncorrectPassword", err)
			}
		})
	}
}

// requireOpenSSL needs openssl, and its ГОСТ engine when gost.
func requireOpenSSL(t *testing.T, gost bool) {
	t.Helper()
	if gost {
		testtool.RequireOpenSSLGost(t)
		return
	}
	testtool.Require(t, "openssl")
}
