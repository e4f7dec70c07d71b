package gost3410

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
)

func hexInt(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("bad hex in test: %q", s)
	}
	return v
}

// TestCurveSanity checks every parameter set's constants: p and q prime,
// the base point on the curve and of order q, and a cofactor that puts
// cofactor·q inside the Hasse interval |#E - (p+1)| ≤ 2√p, so a wrong
// cofactor or a mistyped q shows.
func TestCurveSanity(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.OID.String()] {
				t.Fatalf("OID %s used twice", c.OID)
			}
			seen[c.OID.String()] = true
			if got, err := CurveByOID(c.OID); err != nil || got != c {
				t.Fatalf("CurveByOID(%s) = %v, %v", c.OID, got, err)
			}
			if c.Size() != 32 && c.Size() != 64 {
				t.Fatalf("Size() = %d", c.Size())
			}
			if bits := c.p.BitLen(); bits <= 8*(c.Size()-1) || bits > 8*c.Size() {
				t.Errorf("p has %d bits for Size %d", bits, c.Size())
			}
			if !c.p.ProbablyPrime(32) {
				t.Error("p is not prime")
			}
			if !c.q.ProbablyPrime(32) {
				t.Error("q is not prime")
			}
			for _, v := range []*big.Int{c.a, c.b, c.gx, c.gy} {
				if v.Sign() < 0 || v.Cmp(c.p) >= 0 {
					t.Errorf("constant %x not in [0, p)", v)
				}
			}
			// A singular curve (4a³ + 27b² = 0) is no elliptic curve.
			disc := new(big.Int).Exp(c.a, big.NewInt(3), c.p)
			disc.Mul(disc, big.NewInt(4))
			b2 := new(big.Int).Mul(c.b, c.b)
			disc.Add(disc, b2.Mul(b2, big.NewInt(27)))
			if disc.Mod(disc, c.p).Sign() == 0 {
				t.Error("curve is singular")
			}
			if !c.isOnCurve(c.gx, c.gy) {
				t.Fatal("base point is not on the curve")
			}
			if r := c.bigScalarMult(c.basePoint(), c.q); !r.inf {
				t.Error("q·P is not the point at infinity")
			}
			if r := c.bigScalarMult(c.basePoint(), new(big.Int).Sub(c.q, big.NewInt(1))); r.inf || r.x.Cmp(c.gx) != 0 || new(big.Int).Add(r.y, c.gy).Cmp(c.p) != 0 {
				t.Error("(q-1)·P is not -P")
			}
			// Params hands out copies: changing them leaves the set alone.
			pp, _, _, qq, _, _, h := c.Params()
			if pp.Cmp(c.p) != 0 || qq.Cmp(c.q) != 0 || h.Cmp(c.cofactor) != 0 {
				t.Fatal("Params differs from the set")
			}
			pp.SetInt64(5)
			if c.p.Cmp(big.NewInt(5)) == 0 {
				t.Fatal("Params returned the set's own p")
			}
			order := new(big.Int).Mul(c.cofactor, c.q)
			diff := new(big.Int).Sub(order, new(big.Int).Add(c.p, big.NewInt(1)))
			diff.Mul(diff, diff)
			if diff.Cmp(new(big.Int).Lsh(c.p, 2)) > 0 {
				t.Errorf("cofactor·q = %x is outside the Hasse interval of p", order)
			}
		})
	}
	want := []string{
		"1.2.643.7.1.2.1.1.1", "1.2.643.7.1.2.1.1.2", "1.2.643.7.1.2.1.1.3", "1.2.643.7.1.2.1.1.4",
		"1.2.643.7.1.2.1.2.1", "1.2.643.7.1.2.1.2.2", "1.2.643.7.1.2.1.2.3",
		"1.2.643.2.2.35.1", "1.2.643.2.2.35.2", "1.2.643.2.2.35.3", "1.2.643.2.2.36.0", "1.2.643.2.2.36.1",
		"1.2.643.2.2.35.0", "1.2.643.7.1.2.1.2.0",
	}
	for _, oid := range want {
		if !seen[oid] {
			t.Errorf("no parameter set with OID %s", oid)
		}
	}
}

// TestTwistedEdwardsForms derives the Weierstrass constants of the two
// twisted Edwards sets from the Edwards ones (RFC 7836 A.2: e, d, the base
// point (u, v)) by the map RFC 7836 gives, and compares them with ours.
// This checks a, b, x, y against figures typed independently of them.
func TestTwistedEdwardsForms(t *testing.T) {
	tests := []struct {
		curve   *Curve
		e, d    string
		u, v    string
		wantCof int64
	}{
		{tc26256A, "1", "0605F6B7C183FA81578BC39CFAD518132B9DF62897009AF7E522C32D6DC7BFFB",
			"D", "60CA1E32AA475B348488C38FAB07649CE7EF8DBE87F22E81F92B2592DBA300E7", 4},
		{tc26512C, "1", "9E4F5D8C017D8D9F13A5CF3CDF5BFE4DAB402D54198E31EBDE28A0621050439CA6B39E0A515C06B304E2CE43E79E369E91A0CFC2BC2A22B4CA302DBB33EE7550",
			"12", "469AF79D1FB1F5E16B99592B77A01E2A0FDFB0D01794368D9A56117F7B38669522DD4B650CF789EEBF068C5D139732F0905622C04B2BAAE7600303EE73001A3D", 4},
	}
	for _, tc := range tests {
		t.Run(tc.curve.Name, func(t *testing.T) {
			p := tc.curve.p
			e, d, u, v := hexInt(t, tc.e), hexInt(t, tc.d), hexInt(t, tc.u), hexInt(t, tc.v)
			mod := func(x *big.Int) *big.Int { return x.Mod(x, p) }
			inv := func(x *big.Int) *big.Int { return new(big.Int).ModInverse(mod(new(big.Int).Set(x)), p) }
			// s = (e - d)/4, t = (e + d)/6.
			s := mod(new(big.Int).Mul(new(big.Int).Sub(e, d), inv(big.NewInt(4))))
			tt := mod(new(big.Int).Mul(new(big.Int).Add(e, d), inv(big.NewInt(6))))
			// a = s² - 3t², b = 2t³ - t·s².
			s2 := mod(new(big.Int).Mul(s, s))
			t2 := mod(new(big.Int).Mul(tt, tt))
			a := mod(new(big.Int).Sub(s2, new(big.Int).Mul(big.NewInt(3), t2)))
			b := mod(new(big.Int).Sub(new(big.Int).Mul(big.NewInt(2), mod(new(big.Int).Mul(t2, tt))), mod(new(big.Int).Mul(tt, s2))))
			// x = s(1 + v)/(1 - v) + t, y = s(1 + v)/((1 - v)·u).
			onePlusV := new(big.Int).Add(big.NewInt(1), v)
			oneMinusV := new(big.Int).Sub(big.NewInt(1), v)
			sv := mod(new(big.Int).Mul(s, onePlusV))
			x := mod(new(big.Int).Add(mod(new(big.Int).Mul(sv, inv(oneMinusV))), tt))
			y := mod(new(big.Int).Mul(sv, inv(new(big.Int).Mul(oneMinusV, u))))
			for _, f := range []struct {
				name      string
				got, want *big.Int
			}{{"a", tc.curve.a, a}, {"b", tc.curve.b, b}, {"x", tc.curve.gx, x}, {"y", tc.curve.gy, y}} {
				if f.got.Cmp(f.want) != 0 {
					t.Errorf("%s = %X, the Edwards form gives %X", f.name, f.got, f.want)
				}
			}
			if tc.curve.cofactor.Int64() != tc.wantCof {
				t.Errorf("cofactor %d, want %d", tc.curve.cofactor, tc.wantCof)
			}
		})
	}
}

// TestRFC7091Examples reproduces RFC 7091's two worked examples (its
// Appendix A.1 and A.2): the public key from d, and (r, s) from the given
// e and k; then checks that the signature verifies.
func TestRFC7091Examples(t *testing.T) {
	tests := []struct {
		name                  string
		curve                 *Curve
		d, qx, qy, e, k, r, s string
	}{
		{
			name: "A.1 256", curve: testParamSet256,
			d:  "7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28",
			qx: "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
			qy: "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
			e:  "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5",
			k:  "77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3",
			r:  "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493",
			s:  "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
		},
		{
			name: "A.2 512", curve: testParamSet512,
			d: "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B1020" +
				"72E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4",
			qx: "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD" +
				"5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
			qy: "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61" +
				"EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
			e: "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591" +
				"7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C",
			k: "0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F3658" +
				"86748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1",
			r: "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3" +
				"5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36",
			s: "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5" +
				"823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.curve
			priv, err := NewPrivateKey(c, hexInt(t, tc.d))
			if err != nil {
				t.Fatal(err)
			}
			if priv.X.Cmp(hexInt(t, tc.qx)) != 0 || priv.Y.Cmp(hexInt(t, tc.qy)) != 0 {
				t.Fatalf("public key (%X, %X), want (%s, %s)", priv.X, priv.Y, tc.qx, tc.qy)
			}
			e := hexInt(t, tc.e)
			r, s, ok := signWithK(priv, e, hexInt(t, tc.k))
			if !ok {
				t.Fatal("signWithK refused the RFC's k")
			}
			if r.Cmp(hexInt(t, tc.r)) != 0 || s.Cmp(hexInt(t, tc.s)) != 0 {
				t.Fatalf("(r, s) = (%X, %X), want (%s, %s)", r, s, tc.r, tc.s)
			}
			// The RFC's e is below q, so the digest that gives it is e
			// itself written little-endian.
			digest := make([]byte, c.Size())
			e.FillBytes(digest)
			reverse(digest)
			if got := digestToE(c, digest); got.Cmp(e) != 0 {
				t.Fatalf("digestToE = %X, want %X", got, e)
			}
			sig := encodeSignature(c, r, s)
			if err := VerifyDigest(&priv.PublicKey, digest, sig); err != nil {
				t.Fatalf("the RFC's signature does not verify: %v", err)
			}
			digest[0] ^= 1
			if err := VerifyDigest(&priv.PublicKey, digest, sig); !errors.Is(err, ErrVerification) {
				t.Fatalf("altered digest: %v, want ErrVerification", err)
			}
		})
	}
}

// TestSignVerifyEveryCurve signs and verifies on every set, and checks that
// changing any one of the digest, the signature or the key makes the check
// fail with ErrVerification.
func TestSignVerifyEveryCurve(t *testing.T) {
	for _, c := range Curves() {
		t.Run(c.Name, func(t *testing.T) {
			priv, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			other, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			digest := make([]byte, c.Size())
			rand.Read(digest)
			sig, err := priv.SignDigest(rand.Reader, digest)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != 2*c.Size() {
				t.Fatalf("signature is %d bytes", len(sig))
			}
			if err := VerifyDigest(&priv.PublicKey, digest, sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			// Two signatures of one digest differ: k is random.
			sig2, err := priv.SignDigest(rand.Reader, digest)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(sig, sig2) {
				t.Error("two signatures are equal")
			}
			if err := VerifyDigest(&priv.PublicKey, digest, sig2); err != nil {
				t.Fatalf("second signature: %v", err)
			}
			if err := VerifyDigest(&other.PublicKey, digest, sig); !errors.Is(err, ErrVerification) {
				t.Errorf("other key: %v, want ErrVerification", err)
			}
			for _, i := range []int{0, c.Size() - 1, c.Size(), 2*c.Size() - 1} {
				bad := bytes.Clone(sig)
				bad[i] ^= 0x01
				if err := VerifyDigest(&priv.PublicKey, digest, bad); !errors.Is(err, ErrVerification) && !errors.Is(err, ErrSignatureRange) {
					t.Errorf("signature byte %d altered: %v", i, err)
				}
			}
			for _, i := range []int{0, c.Size() / 2, c.Size() - 1} {
				bad := bytes.Clone(digest)
				bad[i] ^= 0x80
				if err := VerifyDigest(&priv.PublicKey, bad, sig); !errors.Is(err, ErrVerification) {
					t.Errorf("digest byte %d altered: %v", i, err)
				}
			}
			// The raw encoding round-trips into a key that verifies.
			raw := priv.PublicKey.MarshalRaw()
			pub, err := UnmarshalPublicKeyRaw(c, raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyDigest(pub, digest, sig); err != nil {
				t.Fatalf("after raw round trip: %v", err)
			}
		})
	}
}

// TestDigestZero covers e = 0 → 1: a digest equal to q (little-endian)
// reduces to 0 and must sign and verify like the digest 1.
func TestDigestZero(t *testing.T) {
	for _, c := range []*Curve{tc26256A, cryptoProAParamSet, tc26512A} {
		t.Run(c.Name, func(t *testing.T) {
			priv, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			zero := make([]byte, c.Size()) // α = 0
			qd := make([]byte, c.Size())   // α = q
			c.q.FillBytes(qd)
			reverse(qd)
			one := make([]byte, c.Size()) // α = 1
			one[0] = 1
			for _, d := range [][]byte{zero, qd} {
				if e := digestToE(c, d); e.Cmp(big.NewInt(1)) != 0 {
					t.Fatalf("e = %X, want 1", e)
				}
			}
			sig, err := priv.SignDigest(rand.Reader, zero)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range [][]byte{zero, qd, one} {
				if err := VerifyDigest(&priv.PublicKey, d, sig); err != nil {
					t.Errorf("digest %x: %v", d[:4], err)
				}
			}
		})
	}
}

// TestBadInput checks that every kind of malformed input is refused with
// its own error and that nothing panics.
func TestBadInput(t *testing.T) {
	c := tc26256A
	priv, err := GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := &priv.PublicKey
	digest := make([]byte, 32)
	rand.Read(digest)
	sig, err := priv.SignDigest(rand.Reader, digest)
	if err != nil {
		t.Fatal(err)
	}
	q := make([]byte, 32)
	c.q.FillBytes(q)
	qMinus1 := make([]byte, 32)
	new(big.Int).Sub(c.q, big.NewInt(1)).FillBytes(qMinus1)
	cat := func(s, r []byte) []byte { return append(bytes.Clone(s), r...) }
	zero := make([]byte, 32)

	verifyTests := []struct {
		name   string
		pub    *PublicKey
		digest []byte
		sig    []byte
		want   error
	}{
		{"good", pub, digest, sig, nil},
		{"nil key", nil, digest, sig, ErrInvalidPublicKey},
		{"key without set", &PublicKey{X: pub.X, Y: pub.Y}, digest, sig, ErrInvalidPublicKey},
		{"key on a Curve made elsewhere", &PublicKey{Curve: &Curve{Name: c.Name, OID: c.OID}, X: pub.X, Y: pub.Y}, digest, sig, ErrInvalidPublicKey},
		{"key without X", &PublicKey{Curve: c, Y: pub.Y}, digest, sig, ErrInvalidPublicKey},
		{"key off curve", &PublicKey{Curve: c, X: pub.X, Y: new(big.Int).Add(pub.Y, big.NewInt(1))}, digest, sig, ErrInvalidPublicKey},
		{"key X = p", &PublicKey{Curve: c, X: c.p, Y: pub.Y}, digest, sig, ErrInvalidPublicKey},
		{"key X negative", &PublicKey{Curve: c, X: big.NewInt(-1), Y: pub.Y}, digest, sig, ErrInvalidPublicKey},
		{"short digest", pub, digest[:31], sig, ErrDigestLength},
		{"512-bit digest", pub, make([]byte, 64), sig, ErrDigestLength},
		{"nil digest", pub, nil, sig, ErrDigestLength},
		{"short signature", pub, digest, sig[:63], ErrSignatureLength},
		{"long signature", pub, digest, append(bytes.Clone(sig), 0), ErrSignatureLength},
		{"nil signature", pub, digest, nil, ErrSignatureLength},
		{"r = 0", pub, digest, cat(sig[:32], zero), ErrSignatureRange},
		{"s = 0", pub, digest, cat(zero, sig[32:]), ErrSignatureRange},
		{"r = q", pub, digest, cat(sig[:32], q), ErrSignatureRange},
		{"s = q", pub, digest, cat(q, sig[32:]), ErrSignatureRange},
		{"r = q-1", pub, digest, cat(sig[:32], qMinus1), ErrVerification},
		{"s, r swapped", pub, digest, cat(sig[32:], sig[:32]), ErrVerification},
	}
	for _, tc := range verifyTests {
		t.Run("verify/"+tc.name, func(t *testing.T) {
			err := VerifyDigest(tc.pub, tc.digest, tc.sig)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	privTests := []struct {
		name string
		c    *Curve
		d    *big.Int
	}{
		{"d = 0", c, big.NewInt(0)},
		{"d < 0", c, big.NewInt(-5)},
		{"d = q", c, c.q},
		{"d > q", c, new(big.Int).Lsh(c.q, 1)},
		{"nil d", c, nil},
		{"nil set", nil, big.NewInt(5)},
		{"Curve made elsewhere", &Curve{Name: c.Name}, big.NewInt(5)},
	}
	for _, tc := range privTests {
		t.Run("private/"+tc.name, func(t *testing.T) {
			if _, err := NewPrivateKey(tc.c, tc.d); !errors.Is(err, ErrInvalidPrivateKey) {
				t.Fatalf("got %v, want ErrInvalidPrivateKey", err)
			}
		})
	}
	if _, err := NewPrivateKey(c, new(big.Int).Sub(c.q, big.NewInt(1))); err != nil {
		t.Errorf("d = q-1: %v", err)
	}
	if _, err := NewPrivateKey(c, big.NewInt(1)); err != nil {
		t.Errorf("d = 1: %v", err)
	}

	signTests := []struct {
		name   string
		key    *PrivateKey
		digest []byte
		want   error
	}{
		{"nil key", nil, digest, ErrInvalidPrivateKey},
		{"no D", &PrivateKey{PublicKey: *pub}, digest, ErrInvalidPrivateKey},
		{"D = q", &PrivateKey{PublicKey: *pub, D: c.q}, digest, ErrInvalidPrivateKey},
		{"short digest", priv, digest[:16], ErrDigestLength},
	}
	for _, tc := range signTests {
		t.Run("sign/"+tc.name, func(t *testing.T) {
			if _, err := tc.key.SignDigest(rand.Reader, tc.digest); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := priv.SignDigest(bytes.NewReader(nil), digest); err == nil {
		t.Error("sign with an empty random source succeeded")
	}
	if _, err := GenerateKey(c, bytes.NewReader(make([]byte, 3))); err == nil {
		t.Error("GenerateKey with a short random source succeeded")
	}
	if _, err := UnmarshalPublicKeyRaw(&Curve{}, make([]byte, 64)); !errors.Is(err, ErrInvalidPublicKey) {
		t.Errorf("UnmarshalPublicKeyRaw(&Curve{}): %v", err)
	}
	if _, err := (&PrivateKey{PublicKey: PublicKey{Curve: &Curve{}}, D: big.NewInt(5)}).SignDigest(rand.Reader, digest); !errors.Is(err, ErrInvalidPrivateKey) {
		t.Errorf("sign on &Curve{}: %v", err)
	}
	if _, err := GenerateKey(nil, rand.Reader); !errors.Is(err, ErrInvalidPrivateKey) {
		t.Errorf("GenerateKey(nil): %v", err)
	}
	if _, err := CurveByOID(asn1.ObjectIdentifier{1, 2, 3}); !errors.Is(err, ErrUnknownCurve) {
		t.Errorf("CurveByOID(1.2.3): %v", err)
	}
	if p, _, _, _, _, _, _ := (&Curve{}).Params(); p != nil {
		t.Error("Params of a Curve made elsewhere is not nil")
	}
	if (&PublicKey{}).MarshalRaw() != nil || (*PublicKey)(nil).MarshalRaw() != nil {
		t.Error("MarshalRaw of an empty key is not nil")
	}
}

// TestPublicKeyValidation covers NewPublicKey and UnmarshalPublicKeyRaw:
// lengths, ranges, the curve equation and, on the cofactor-4 sets, the
// subgroup check.
func TestPublicKeyValidation(t *testing.T) {
	for _, c := range []*Curve{tc26256A, cryptoProAParamSet, tc26512A, tc26512C} {
		t.Run(c.Name, func(t *testing.T) {
			priv, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			raw := priv.PublicKey.MarshalRaw()
			n := c.Size()
			// The encoding is little-endian X || little-endian Y.
			x := priv.X.FillBytes(make([]byte, n))
			reverse(x)
			if !bytes.Equal(raw[:n], x) {
				t.Fatalf("raw X is not little-endian X")
			}
			bad := map[string][]byte{
				"empty":      nil,
				"short":      raw[:2*n-1],
				"long":       append(bytes.Clone(raw), 0),
				"Y+1":        func() []byte { b := bytes.Clone(raw); b[n]++; return b }(),
				"all zero":   make([]byte, 2*n),
				"all 0xff":   bytes.Repeat([]byte{0xff}, 2*n),
				"coord >= p": func() []byte { b := bytes.Clone(raw); copy(b[:n], bytes.Repeat([]byte{0xff}, n)); return b }(),
			}
			for name, b := range bad {
				if _, err := UnmarshalPublicKeyRaw(c, b); !errors.Is(err, ErrInvalidPublicKey) {
					t.Errorf("%s: got %v, want ErrInvalidPublicKey", name, err)
				}
			}
			// x + p is the same residue as x but not a valid coordinate.
			if _, err := NewPublicKey(c, new(big.Int).Add(priv.X, c.p), priv.Y); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("x + p accepted: %v", err)
			}
			if _, err := NewPublicKey(c, priv.X, priv.Y); err != nil {
				t.Errorf("good key refused: %v", err)
			}
			if c.cofactor.Int64() == 1 {
				return
			}
			// A point of order 2 (y = 0) is on the curve but outside the
			// subgroup of order q; so is P plus it.
			if pt, ok := pointOfOrderTwo(c); ok {
				if _, err := NewPublicKey(c, pt.x, pt.y); !errors.Is(err, ErrInvalidPublicKey) {
					t.Errorf("point of order 2 accepted: %v", err)
				}
				sum := c.bigAdd(pt, bigPoint{x: priv.X, y: priv.Y})
				if !c.isOnCurve(sum.x, sum.y) {
					t.Fatal("test point is off the curve")
				}
				if _, err := NewPublicKey(c, sum.x, sum.y); !errors.Is(err, ErrInvalidPublicKey) {
					t.Errorf("Q + T2 accepted: %v", err)
				}
			} else {
				t.Error("no point of order 2 found on a cofactor-4 curve")
			}
		})
	}
}

// pointOfOrderTwo finds a point (x, 0) of order 2 on a curve with an even
// cofactor h: for a random curve point R, (h/2)·q·R has order 1 or 2, and
// is of order 2 for half of the R.
func pointOfOrderTwo(c *Curve) (bigPoint, bool) {
	for range 64 {
		x, err := rand.Int(rand.Reader, c.p)
		if err != nil {
			return bigPoint{}, false
		}
		rhs := new(big.Int).Exp(x, big.NewInt(3), c.p)
		rhs.Add(rhs, new(big.Int).Mul(c.a, x))
		rhs.Add(rhs, c.b)
		rhs.Mod(rhs, c.p)
		y := new(big.Int).ModSqrt(rhs, c.p)
		if y == nil {
			continue
		}
		k := new(big.Int).Mul(c.q, new(big.Int).Rsh(c.cofactor, 1))
		pt := c.bigScalarMult(bigPoint{x: x, y: y}, k)
		if !pt.inf && pt.y.Sign() == 0 {
			return pt, true
		}
	}
	return bigPoint{}, false
}

// stuckReader is a broken random source that returns the same bytes forever.
type stuckReader struct{}

func (stuckReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x42
	}
	return len(p), nil
}

// TestNonceWithBrokenRandom checks the hedge in nonce: with a random source
// stuck on one value, signatures of different digests still use different
// k (different r), and every signature still verifies; k depends on the
// key too, so two keys with the stuck source get different r for one
// digest. The same inputs give the same k: the hedge adds no randomness of
// its own, it only keeps k secret and distinct.
func TestNonceWithBrokenRandom(t *testing.T) {
	for _, c := range []*Curve{tc26256A, tc26512A} {
		t.Run(c.Name, func(t *testing.T) {
			priv, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			other, err := GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			d1 := bytes.Repeat([]byte{1}, c.Size())
			d2 := bytes.Repeat([]byte{2}, c.Size())
			rOf := func(key *PrivateKey, digest []byte) []byte {
				t.Helper()
				sig, err := key.SignDigest(stuckReader{}, digest)
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyDigest(&key.PublicKey, digest, sig); err != nil {
					t.Fatalf("signature with the stuck source: %v", err)
				}
				return sig[c.Size():]
			}
			if bytes.Equal(rOf(priv, d1), rOf(priv, d2)) {
				t.Error("one k for two digests with a stuck random source")
			}
			if bytes.Equal(rOf(priv, d1), rOf(other, d1)) {
				t.Error("one k for two keys with a stuck random source")
			}
			if !bytes.Equal(rOf(priv, d1), rOf(priv, d1)) {
				t.Error("the same inputs gave different k")
			}
			// k is in [1, q-1] and not a plain function of the stuck bytes.
			k, err := nonce(c, stuckReader{}, priv.D, d1)
			if err != nil {
				t.Fatal(err)
			}
			if k.Sign() <= 0 || k.Cmp(c.q) >= 0 {
				t.Fatalf("k out of range")
			}
		})
	}
}
