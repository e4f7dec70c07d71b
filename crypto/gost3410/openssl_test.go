package gost3410

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

var (
	sslPrivRE = regexp.MustCompile(`Private key: ([0-9A-Fa-f]+)`)
	sslXRE    = regexp.MustCompile(`X:([0-9A-Fa-f]+)`)
	sslYRE    = regexp.MustCompile(`Y:([0-9A-Fa-f]+)`)
)

// spki is a SubjectPublicKeyInfo with ГОСТ parameters (RFC 4491 §2.3.2,
// RFC 9215): the key is an OCTET STRING inside the BIT STRING.
type spki struct {
	Algorithm struct {
		OID    asn1.ObjectIdentifier
		Params struct {
			ParamSet asn1.ObjectIdentifier
			Rest     asn1.RawValue `asn1:"optional"`
		}
	}
	Key asn1.BitString
}

// TestAgainstOpenSSL checks this package against OpenSSL's gost engine on
// every parameter set the engine can generate keys for: the engine's key
// gives the same public key from d here; the engine's public key encoding
// is MarshalRaw's; the engine's signatures verify here and ours verify in
// the engine, over digests that openssl dgst and crypto/streebog agree on.
// Together these pin the digest byte order (little-endian α) and the
// signature layout (big-endian s || r) to what the engine does.
func TestAgainstOpenSSL(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	tests := []struct {
		alg, paramset string
		curve         *Curve
	}{
		{"gost2012_256", "TCA", tc26256A},
		{"gost2012_256", "TCB", tc26256B},
		{"gost2012_256", "TCC", tc26256C},
		{"gost2012_256", "TCD", tc26256D},
		{"gost2012_256", "A", cryptoProAParamSet},
		{"gost2012_256", "B", cryptoProBParamSet},
		{"gost2012_256", "C", cryptoProCParamSet},
		{"gost2012_256", "XA", cryptoProXchAParamSet},
		{"gost2012_256", "XB", cryptoProXchBParamSet},
		{"gost2012_256", "0", testParamSet256},
		{"gost2012_512", "A", tc26512A},
		{"gost2012_512", "B", tc26512B},
		{"gost2012_512", "C", tc26512C},
	}
	for _, tc := range tests {
		t.Run(tc.alg+"/"+tc.paramset, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := func(name string) string { return filepath.Join(dir, name) }
			c := tc.curve
			testtool.OpenSSL(t, "", "genpkey", "-engine", "gost", "-algorithm", tc.alg, "-pkeyopt", "paramset:"+tc.paramset, "-out", file("key.pem"))
			testtool.OpenSSL(t, "", "pkey", "-engine", "gost", "-in", file("key.pem"), "-pubout", "-out", file("pub.pem"))
			text := string(testtool.OpenSSL(t, "", "pkey", "-engine", "gost", "-in", file("key.pem"), "-text", "-noout"))
			m := [3][]string{sslPrivRE.FindStringSubmatch(text), sslXRE.FindStringSubmatch(text), sslYRE.FindStringSubmatch(text)}
			for _, v := range m {
				if v == nil {
					t.Fatal("cannot read the key from openssl pkey -text")
				}
			}
			priv, err := NewPrivateKey(c, hexInt(t, m[0][1]))
			if err != nil {
				t.Fatalf("openssl's private key: %v", err)
			}
			if priv.X.Cmp(hexInt(t, m[1][1])) != 0 || priv.Y.Cmp(hexInt(t, m[2][1])) != 0 {
				t.Fatal("the public key computed here differs from openssl's")
			}

			// openssl's SubjectPublicKeyInfo names our OID and holds MarshalRaw.
			pubPEM, err := os.ReadFile(file("pub.pem"))
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(pubPEM)
			if block == nil {
				t.Fatal("pub.pem is not PEM")
			}
			var info spki
			if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
				t.Fatalf("parse openssl's SubjectPublicKeyInfo: %v", err)
			}
			if !info.Algorithm.Params.ParamSet.Equal(c.OID) {
				t.Fatalf("openssl's parameter set is %s, ours %s", info.Algorithm.Params.ParamSet, c.OID)
			}
			var raw []byte
			if _, err := asn1.Unmarshal(info.Key.Bytes, &raw); err != nil {
				t.Fatalf("parse the key OCTET STRING: %v", err)
			}
			if !bytes.Equal(raw, priv.PublicKey.MarshalRaw()) {
				t.Fatal("openssl's raw public key differs from MarshalRaw")
			}
			pub, err := UnmarshalPublicKeyRaw(c, raw)
			if err != nil {
				t.Fatalf("UnmarshalPublicKeyRaw(openssl's key): %v", err)
			}

			md := "-md_gost12_256"
			if c.Size() == 64 {
				md = "-md_gost12_512"
			}
			for i := range 3 {
				msg := make([]byte, 100+i*1000)
				rand.Read(msg)
				if err := os.WriteFile(file("msg"), msg, 0o600); err != nil {
					t.Fatal(err)
				}
				digest := testtool.OpenSSL(t, "", "dgst", "-engine", "gost", md, "-binary", file("msg"))
				var ours []byte
				if c.Size() == 32 {
					s := streebog.Sum256(msg)
					ours = s[:]
				} else {
					s := streebog.Sum512(msg)
					ours = s[:]
				}
				if !bytes.Equal(digest, ours) {
					t.Fatalf("openssl dgst %s and streebog differ", md)
				}
				if err := os.WriteFile(file("digest"), digest, 0o600); err != nil {
					t.Fatal(err)
				}

				// openssl signs, we verify.
				testtool.OpenSSL(t, "", "pkeyutl", "-engine", "gost", "-sign", "-inkey", file("key.pem"), "-in", file("digest"), "-out", file("sig.openssl"))
				sslSig, err := os.ReadFile(file("sig.openssl"))
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyDigest(pub, digest, sslSig); err != nil {
					t.Fatalf("openssl's signature does not verify here: %v", err)
				}
				tampered := bytes.Clone(digest)
				tampered[len(tampered)-1] ^= 1
				if err := VerifyDigest(pub, tampered, sslSig); !errors.Is(err, ErrVerification) {
					t.Fatalf("openssl's signature over another digest: %v", err)
				}

				// We sign, openssl verifies; and refuses it for another digest.
				sig, err := priv.SignDigest(rand.Reader, digest)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file("sig.ours"), sig, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file("digest.tampered"), tampered, 0o600); err != nil {
					t.Fatal(err)
				}
				if ok, out := sslVerify(file("pub.pem"), file("digest"), file("sig.ours")); !ok {
					t.Fatalf("openssl does not verify our signature: %s", out)
				}
				if ok, _ := sslVerify(file("pub.pem"), file("digest.tampered"), file("sig.ours")); ok {
					t.Fatal("openssl verified our signature over another digest")
				}
			}
		})
	}
}

// sslVerify runs openssl pkeyutl -verify and reports whether it accepted.
func sslVerify(pub, digest, sig string) (bool, string) {
	out, err := exec.Command("openssl", "pkeyutl", "-engine", "gost", "-verify", "-pubin", "-inkey", pub, "-in", digest, "-sigfile", sig).CombinedOutput()
	return err == nil && bytes.Contains(out, []byte("Signature Verified Successfully")), string(out)
}

// TestDigestByteOrderMatters shows the agreement test above can tell the
// two byte orders apart: for a digest whose big- and little-endian readings
// differ, the signature for one does not verify for the other.
func TestDigestByteOrderMatters(t *testing.T) {
	c := tc26256A
	priv, err := GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	rand.Read(digest)
	rev := bytes.Clone(digest)
	reverse(rev)
	if new(big.Int).SetBytes(digest).Cmp(leInt(digest)) == 0 {
		t.Skip("palindromic digest")
	}
	sig, err := priv.SignDigest(rand.Reader, digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDigest(&priv.PublicKey, rev, sig); !errors.Is(err, ErrVerification) {
		t.Fatalf("signature verified over the reversed digest: %v", err)
	}
}
