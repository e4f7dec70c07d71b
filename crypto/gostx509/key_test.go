package gostx509

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"math/big"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

var opensslParamSets = []struct {
	algorithm, paramset string
	alg                 signer.Algorithm
}{
	{"gost2012_256", "A", signer.GOST2012_256},
	{"gost2012_256", "B", signer.GOST2012_256},
	{"gost2012_256", "C", signer.GOST2012_256},
	{"gost2012_256", "XA", signer.GOST2012_256},
	{"gost2012_256", "XB", signer.GOST2012_256},
	{"gost2012_256", "TCA", signer.GOST2012_256},
	{"gost2012_256", "TCB", signer.GOST2012_256},
	{"gost2012_256", "TCC", signer.GOST2012_256},
	{"gost2012_256", "TCD", signer.GOST2012_256},
	{"gost2012_512", "A", signer.GOST2012_512},
	{"gost2012_512", "B", signer.GOST2012_512},
	{"gost2012_512", "C", signer.GOST2012_512},
}

// TestOpenSSLKeys reads keys openssl generates, writes them back byte for
// byte as openssl does, and signs and verifies both ways with them.
func TestOpenSSLKeys(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	data := []byte("СЭМД: протокол консультации")
	dataFile := writeFile(t, dir, "data", data)
	for _, ps := range opensslParamSets {
		t.Run(ps.algorithm+"-"+ps.paramset, func(t *testing.T) {
			keyPEM := testtool.OpenSSL(t, dir, "genpkey", "-engine", "gost", "-algorithm", ps.algorithm, "-pkeyopt", "paramset:"+ps.paramset)
			keyFile := writeFile(t, dir, "key.pem", keyPEM)
			pubDER := testtool.OpenSSL(t, dir, "pkey", "-engine", "gost", "-in", keyFile, "-pubout", "-outform", "DER")
			pubFile := writeFile(t, dir, "pub.der", pubDER)

			parsed, err := ParsePrivateKeyPEM(keyPEM)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			key, ok := parsed.(*gost3410.PrivateKey)
			if !ok {
				t.Fatalf("parsed a %T", parsed)
			}
			pub, err := ParsePublicKeyInfo(pubDER)
			if err != nil {
				t.Fatalf("ParsePublicKeyInfo: %v", err)
			}
			if pub.X.Cmp(key.X) != 0 || pub.Y.Cmp(key.Y) != 0 || pub.Curve != key.Curve {
				t.Fatal("openssl's public key is not the one computed from its private key")
			}
			if alg, err := KeyAlgorithm(pub); err != nil || alg != ps.alg {
				t.Fatalf("KeyAlgorithm = %v, %v; want %v", alg, err, ps.alg)
			}

			block, _ := pem.Decode(keyPEM)
			ours, err := MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, block.Bytes) {
				t.Errorf("PKCS#8 differs from openssl's:\nours   %x\nopenssl %x", ours, block.Bytes)
			}
			oursPub, err := MarshalPublicKeyInfo(&key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(oursPub, pubDER) {
				t.Errorf("SubjectPublicKeyInfo differs from openssl's:\nours    %x\nopenssl %x", oursPub, pubDER)
			}
			// Our PEM reads back in openssl as the same key.
			oursPEM, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			oursFile := writeFile(t, dir, "ours.pem", oursPEM)
			if back := testtool.OpenSSL(t, dir, "pkey", "-engine", "gost", "-in", oursFile, "-pubout", "-outform", "DER"); !bytes.Equal(back, pubDER) {
				t.Error("openssl derives another public key from our PKCS#8")
			}

			md := "-md_gost12_256"
			digest := streebog.Sum256(data)
			d := digest[:]
			if ps.alg == signer.GOST2012_512 {
				md = "-md_gost12_512"
				d512 := streebog.Sum512(data)
				d = d512[:]
			}
			// openssl signs, we verify.
			sig := testtool.OpenSSL(t, dir, "dgst", "-engine", "gost", md, "-sign", keyFile, dataFile)
			if err := VerifyDigestWithKey(pub, d, sig); err != nil {
				t.Errorf("openssl's signature: %v", err)
			}
			// We sign, openssl verifies.
			ds, err := NewDigestSigner(key, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			oursSig, err := ds.SignDigest(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			sigFile := writeFile(t, dir, "sig", oursSig)
			if _, err := testtool.RunOpenSSL(dir, "dgst", "-engine", "gost", md, "-verify", pubFile, "-keyform", "DER", "-signature", sigFile, dataFile); err != nil {
				// -keyform does not apply to -verify's key in every
				// version; retry with a PEM public key.
				pubPEM := writeFile(t, dir, "pub.pem", pemEncode("PUBLIC KEY", pubDER))
				if _, err := testtool.RunOpenSSL(dir, "dgst", "-engine", "gost", md, "-verify", pubPEM, "-signature", sigFile, dataFile); err != nil {
					t.Errorf("openssl rejects our signature: %v", err)
				}
			}
			// A signature over other data does not verify.
			other := append([]byte(nil), d...)
			other[0] ^= 1
			if err := VerifyDigestWithKey(pub, other, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("signature over another digest: %v, want ErrBadSignature", err)
			}
		})
	}
}

// TestPKCS8Forms reads the three forms of the key inside PKCS#8 that the
// gost engine reads: raw little-endian bytes, an OCTET STRING of them, an
// INTEGER.
func TestPKCS8Forms(t *testing.T) {
	c, err := gost3410.CurveByOID(oidParamSetCryptoProA)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gost3410.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	alg, err := keyAlgorithm(c)
	if err != nil {
		t.Fatal(err)
	}
	le := reversed(key.D.FillBytes(make([]byte, 32)))
	octet, _ := asn1.Marshal(le)
	integer, _ := asn1.Marshal(key.D)
	for name, inner := range map[string][]byte{"raw": le, "octet string": octet, "integer": integer} {
		der, err := asn1.Marshal(pkcs8{Algorithm: alg, PrivateKey: inner})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.D.Cmp(key.D) != 0 || got.X.Cmp(key.X) != 0 {
			t.Errorf("%s: another key", name)
		}
	}
}

func TestECDSAKeys(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Equal(back) {
		t.Fatal("ECDSA key does not round-trip")
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k384)
	if _, err := ParsePrivateKey(der); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("P-384 key: %v, want ErrUnsupportedAlgorithm", err)
	}
}

// TestBadKeys feeds broken SubjectPublicKeyInfo and PKCS#8 and wants the
// precise error of each, never a panic.
func TestBadKeys(t *testing.T) {
	c256, _ := gost3410.CurveByOID(oidParamSetCryptoProA)
	c512, _ := gost3410.CurveByOID(oidParamSetTC26512A)
	key, err := gost3410.GenerateKey(c256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	goodSPKI, _ := MarshalPublicKeyInfo(&key.PublicKey)
	goodPKCS8, _ := MarshalPKCS8PrivateKey(key)
	alg256, _ := keyAlgorithm(c256)
	alg512, _ := keyAlgorithm(c512)
	spki := func(alg pkix.AlgorithmIdentifier, raw []byte) []byte {
		inner, _ := asn1.Marshal(raw)
		der, _ := asn1.Marshal(subjectPublicKeyInfo{Algorithm: alg, PublicKey: asn1.BitString{Bytes: inner, BitLength: 8 * len(inner)}})
		return der
	}
	params := func(ps, digest asn1.ObjectIdentifier) asn1.RawValue {
		der, _ := asn1.Marshal(publicKeyParams{PublicKeyParamSet: ps, DigestParamSet: digest})
		return asn1.RawValue{FullBytes: der}
	}
	raw := key.MarshalRaw()
	offCurve := append([]byte(nil), raw...)
	offCurve[0] ^= 1
	pkcs8Of := func(alg pkix.AlgorithmIdentifier, d []byte) []byte {
		der, _ := asn1.Marshal(pkcs8{Algorithm: alg, PrivateKey: d})
		return der
	}
	q := func() *big.Int { _, _, _, q, _, _, _ := c256.Params(); return q }()

	for _, tc := range []struct {
		name  string
		der   []byte
		pkcs8 bool
		want  error
	}{
		{"empty SPKI", nil, false, ErrMalformed},
		{"garbage SPKI", []byte("not DER at all"), false, ErrMalformed},
		{"truncated SPKI", goodSPKI[:len(goodSPKI)-3], false, ErrMalformed},
		{"trailing bytes SPKI", append(append([]byte(nil), goodSPKI...), 0), false, ErrMalformed},
		{"unknown key algorithm", spki(pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 3}, Parameters: alg256.Parameters}, raw), false, ErrUnsupportedAlgorithm},
		{"legacy 2001 key", spki(pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 643, 2, 2, 19}, Parameters: alg256.Parameters}, raw), false, ErrUnsupportedAlgorithm},
		{"unknown parameter set", spki(pkix.AlgorithmIdentifier{Algorithm: OIDPublicKey256, Parameters: params(asn1.ObjectIdentifier{1, 2, 643, 9, 9}, nil)}, raw), false, ErrUnsupportedAlgorithm},
		{"512-bit set under 256-bit key", spki(pkix.AlgorithmIdentifier{Algorithm: OIDPublicKey256, Parameters: alg512.Parameters}, raw), false, ErrAlgorithmMismatch},
		{"512-bit digest for 256-bit key", spki(pkix.AlgorithmIdentifier{Algorithm: OIDPublicKey256, Parameters: params(c256.OID, OIDDigest512)}, raw), false, ErrAlgorithmMismatch},
		{"no parameters", spki(pkix.AlgorithmIdentifier{Algorithm: OIDPublicKey256}, raw), false, ErrMalformed},
		{"short key", spki(alg256, raw[:63]), false, ErrMalformed},
		{"point off the curve", spki(alg256, offCurve), false, ErrMalformed},
		{"empty PKCS#8", nil, true, ErrMalformed},
		{"truncated PKCS#8", goodPKCS8[:len(goodPKCS8)-1], true, ErrMalformed},
		{"PKCS#8 short key", pkcs8Of(alg256, make([]byte, 31)), true, ErrMalformed},
		{"PKCS#8 zero key", pkcs8Of(alg256, make([]byte, 32)), true, ErrMalformed},
		{"PKCS#8 key = q", pkcs8Of(alg256, reversed(q.FillBytes(make([]byte, 32)))), true, ErrMalformed},
		{"PKCS#8 unknown parameter set", pkcs8Of(pkix.AlgorithmIdentifier{Algorithm: OIDPublicKey256, Parameters: params(asn1.ObjectIdentifier{1, 2, 3}, nil)}, make([]byte, 32)), true, ErrUnsupportedAlgorithm},
		{"PKCS#8 bad inner octet string", pkcs8Of(alg256, []byte{4, 40, 1, 2}), true, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.pkcs8 {
				_, err = ParsePKCS8PrivateKey(tc.der)
			} else {
				_, err = ParsePublicKeyInfo(tc.der)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
