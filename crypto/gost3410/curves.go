package gost3410

import (
	"encoding/asn1"
	"fmt"
	"math/big"
)

// The parameter sets. Every set is given in short Weierstrass form
// y² = x³ + a·x + b (mod p) with a base point P of prime order q; the
// twisted Edwards sets (tc26 256 A, tc26 512 C) are given in the Weierstrass
// form RFC 7836 lists beside the Edwards one, which is the form signatures
// are computed in. The values are those of RFC 4357 (the CryptoPro sets and
// the 2001 test set, which is also RFC 7091's 256-bit example set), RFC 7836
// Appendix A (tc26) and RFC 7091 Appendix A (the 512-bit example set), as
// OpenSSL's gost engine also carries them. The tests check each one
// independently of how it was typed: p and q prime, P on the curve and of
// order q, the cofactor within the Hasse bound, the Edwards sets' a, b, x,
// y re-derived from their Edwards form, RFC 7091's examples reproduced, and
// keys and signatures agreeing with the engine on every set it supports.
//
// tc26 256 B, C, D are the CryptoPro A, B, C curves under tc26 OIDs
// (Р 1323565.1.024-2019), and XchA, XchB are the CryptoPro A and C curves
// under the exchange OIDs.
var (
	testParamSet256 = mustCurve(curveSpec{
		name: "id-GostR3410-2001-TestParamSet", oid: asn1.ObjectIdentifier{1, 2, 643, 2, 2, 35, 0}, size: 32,
		p:  "8000000000000000000000000000000000000000000000000000000000000431",
		a:  "7",
		b:  "5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E",
		q:  "8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3",
		x:  "2",
		y:  "08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8",
		co: 1,
	})

	// cryptoProA is the CryptoPro A curve, also tc26 256 B and XchA.
	cryptoProA = curveSpec{
		p:  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
		a:  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD94",
		b:  "A6",
		q:  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893",
		x:  "1",
		y:  "8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14",
		co: 1, size: 32,
	}
	// cryptoProB is the CryptoPro B curve, also tc26 256 C.
	cryptoProB = curveSpec{
		p:  "8000000000000000000000000000000000000000000000000000000000000C99",
		a:  "8000000000000000000000000000000000000000000000000000000000000C96",
		b:  "3E1AF419A269A5F866A7D3C25C3DF80AE979259373FF2B182F49D4CE7E1BBC8B",
		q:  "800000000000000000000000000000015F700CFFF1A624E5E497161BCC8A198F",
		x:  "1",
		y:  "3FA8124359F96680B83D1C3EB2C070E5C545C9858D03ECFB744BF8D717717EFC",
		co: 1, size: 32,
	}
	// cryptoProC is the CryptoPro C curve, also tc26 256 D and XchB.
	cryptoProC = curveSpec{
		p:  "9B9F605F5A858107AB1EC85E6B41C8AACF846E86789051D37998F7B9022D759B",
		a:  "9B9F605F5A858107AB1EC85E6B41C8AACF846E86789051D37998F7B9022D7598",
		b:  "805A",
		q:  "9B9F605F5A858107AB1EC85E6B41C8AA582CA3511EDDFB74F02F3A6598980BB9",
		x:  "0",
		y:  "41ECE55743711A8C3CBF3783CD08C0EE4D4DC440D4641A8F366E550DFDB3BB67",
		co: 1, size: 32,
	}

	cryptoProAParamSet    = mustCurve(cryptoProA.named("id-GostR3410-2001-CryptoPro-A-ParamSet", 1, 2, 643, 2, 2, 35, 1))
	cryptoProBParamSet    = mustCurve(cryptoProB.named("id-GostR3410-2001-CryptoPro-B-ParamSet", 1, 2, 643, 2, 2, 35, 2))
	cryptoProCParamSet    = mustCurve(cryptoProC.named("id-GostR3410-2001-CryptoPro-C-ParamSet", 1, 2, 643, 2, 2, 35, 3))
	cryptoProXchAParamSet = mustCurve(cryptoProA.named("id-GostR3410-2001-CryptoPro-XchA-ParamSet", 1, 2, 643, 2, 2, 36, 0))
	cryptoProXchBParamSet = mustCurve(cryptoProC.named("id-GostR3410-2001-CryptoPro-XchB-ParamSet", 1, 2, 643, 2, 2, 36, 1))

	tc26256A = mustCurve(curveSpec{
		name: "id-tc26-gost-3410-12-256-paramSetA", oid: asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 1, 1}, size: 32,
		p:  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
		a:  "C2173F1513981673AF4892C23035A27CE25E2013BF95AA33B22C656F277E7335",
		b:  "295F9BAE7428ED9CCC20E7C359A9D41A22FCCD9108E17BF7BA9337A6F8AE9513",
		q:  "400000000000000000000000000000000FD8CDDFC87B6635C115AF556C360C67",
		x:  "91E38443A5E82C0D880923425712B2BB658B9196932E02C78B2582FE742DAA28",
		y:  "32879423AB1A0375895786C4BB46E9565FDE0B5344766740AF268ADB32322E5C",
		co: 4,
	})
	tc26256B = mustCurve(cryptoProA.named("id-tc26-gost-3410-12-256-paramSetB", 1, 2, 643, 7, 1, 2, 1, 1, 2))
	tc26256C = mustCurve(cryptoProB.named("id-tc26-gost-3410-12-256-paramSetC", 1, 2, 643, 7, 1, 2, 1, 1, 3))
	tc26256D = mustCurve(cryptoProC.named("id-tc26-gost-3410-12-256-paramSetD", 1, 2, 643, 7, 1, 2, 1, 1, 4))

	testParamSet512 = mustCurve(curveSpec{
		name: "id-tc26-gost-3410-12-512-paramSetTest", oid: asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 0}, size: 64,
		p: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D" +
			"F1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373",
		a: "7",
		b: "1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC43" +
			"61834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC",
		q: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D" +
			"A82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF",
		x: "24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762" +
			"FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A",
		y: "2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C" +
			"83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E",
		co: 1,
	})
	tc26512A = mustCurve(curveSpec{
		name: "id-tc26-gost-3410-12-512-paramSetA", oid: asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 1}, size: 64,
		p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
		a: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC4",
		b: "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265" +
			"EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
		q: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
		x: "3",
		y: "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921" +
			"DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
		co: 1,
	})
	tc26512B = mustCurve(curveSpec{
		name: "id-tc26-gost-3410-12-512-paramSetB", oid: asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 2}, size: 64,
		p: "8000000000000000000000000000000000000000000000000000000000000000" +
			"000000000000000000000000000000000000000000000000000000000000006F",
		a: "8000000000000000000000000000000000000000000000000000000000000000" +
			"000000000000000000000000000000000000000000000000000000000000006C",
		b: "687D1B459DC841457E3E06CF6F5E2517B97C7D614AF138BCBF85DC806C4B289F" +
			"3E965D2DB1416D217F8B276FAD1AB69C50F78BEE1FA3106EFB8CCBC7C5140116",
		q: "8000000000000000000000000000000000000000000000000000000000000001" +
			"49A1EC142565A545ACFDB77BD9D40CFA8B996712101BEA0EC6346C54374F25BD",
		x: "2",
		y: "1A8F7EDA389B094C2C071E3647A8940F3C123B697578C213BE6DD9E6C8EC7335" +
			"DCB228FD1EDF4A39152CBCAAF8C0398828041055F94CEEEC7E21340780FE41BD",
		co: 1,
	})
	tc26512C = mustCurve(curveSpec{
		name: "id-tc26-gost-3410-12-512-paramSetC", oid: asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 3}, size: 64,
		p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
		a: "DC9203E514A721875485A529D2C722FB187BC8980EB866644DE41C68E1430645" +
			"46E861C0E2C9EDD92ADE71F46FCF50FF2AD97F951FDA9F2A2EB6546F39689BD3",
		b: "B4C4EE28CEBC6C2C8AC12952CF37F16AC7EFB6A9F69F4B57FFDA2E4F0DE5ADE0" +
			"38CBC2FFF719D2C18DE0284B8BFEF3B52B8CC7A5F5BF0A3C8D2319A5312557E1",
		q: "3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"C98CDBA46506AB004C33A9FF5147502CC8EDA9E7A769A12694623CEF47F023ED",
		x: "E2E31EDFC23DE7BDEBE241CE593EF5DE2295B7A9CBAEF021D385F7074CEA043A" +
			"A27272A7AE602BF2A7B9033DB9ED3610C6FB85487EAE97AAC5BC7928C1950148",
		y: "F5CE40D95B5EB899ABBCCFF5911CB8577939804D6527378B8C108C3D2090FF9B" +
			"E18E2D33E3021ED2EF32D85822423B6304F726AA854BAE07D0396E9A9ADDC40F",
		co: 4,
	})

	// allCurves is every supported set, in the order Curves returns them.
	allCurves = []*Curve{
		tc26256A, tc26256B, tc26256C, tc26256D,
		tc26512A, tc26512B, tc26512C,
		cryptoProAParamSet, cryptoProBParamSet, cryptoProCParamSet,
		cryptoProXchAParamSet, cryptoProXchBParamSet,
		testParamSet256, testParamSet512,
	}
)

// curveSpec is a parameter set as the RFCs print it: hexadecimal integers.
type curveSpec struct {
	name             string
	oid              asn1.ObjectIdentifier
	size             int
	p, a, b, q, x, y string
	co               int64
}

// named returns the spec's curve under another name and OID.
func (s curveSpec) named(name string, oid ...int) curveSpec {
	s.name, s.oid = name, asn1.ObjectIdentifier(oid)
	return s
}

// mustCurve builds a Curve from constants in this file. It runs only at
// package initialisation over the literals above, so a typo there fails
// every test at once instead of surfacing later.
func mustCurve(s curveSpec) *Curve {
	c, err := newCurve(s)
	if err != nil {
		panic(fmt.Sprintf("gost3410: parameter set %s: %v", s.name, err))
	}
	return c
}

func newCurve(s curveSpec) (*Curve, error) {
	c := &Curve{Name: s.name, OID: s.oid, size: s.size, cofactor: big.NewInt(s.co)}
	for _, f := range []struct {
		dst **big.Int
		hex string
	}{{&c.p, s.p}, {&c.a, s.a}, {&c.b, s.b}, {&c.q, s.q}, {&c.gx, s.x}, {&c.gy, s.y}} {
		v, ok := new(big.Int).SetString(f.hex, 16)
		if !ok {
			return nil, fmt.Errorf("bad hexadecimal constant %q", f.hex)
		}
		*f.dst = v
	}
	if c.p.BitLen() > 8*s.size || c.p.BitLen() <= 8*(s.size-1) {
		return nil, fmt.Errorf("p has %d bits for a %d-byte set", c.p.BitLen(), s.size)
	}
	if c.q.BitLen() > 8*s.size {
		return nil, fmt.Errorf("q has %d bits for a %d-byte set", c.q.BitLen(), s.size)
	}
	var err error
	switch s.size {
	case 32:
		c.fast, err = newECOps[[4]uint64](c)
	case 64:
		c.fast, err = newECOps[[8]uint64](c)
	default:
		err = fmt.Errorf("unsupported size %d", s.size)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CurveByOID returns the parameter set with the given OID.
func CurveByOID(oid asn1.ObjectIdentifier) (*Curve, error) {
	for _, c := range allCurves {
		if c.OID.Equal(oid) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownCurve, oid)
}

// Curves returns every supported parameter set: tc26 256 A-D, tc26 512 A-C,
// CryptoPro A, B, C, XchA, XchB, and the two example sets of RFC 7091. The
// slice is the caller's; the curves are shared and immutable.
func Curves() []*Curve {
	return append([]*Curve(nil), allCurves...)
}

// Size returns the byte length of a coordinate and of each of r and s: 32 or 64.
func (c *Curve) Size() int {
	if c == nil {
		return 0
	}
	return c.size
}

// Params returns copies of the set's integers: the field prime p, the
// Weierstrass coefficients a and b, the subgroup order q, the base point
// (x, y) and the cofactor (the curve's order is cofactor·q). They are all
// nil for a Curve that is not one of this package's sets.
func (c *Curve) Params() (p, a, b, q, x, y, cofactor *big.Int) {
	if !c.known() {
		return
	}
	cp := func(v *big.Int) *big.Int { return new(big.Int).Set(v) }
	return cp(c.p), cp(c.a), cp(c.b), cp(c.q), cp(c.gx), cp(c.gy), cp(c.cofactor)
}

// String returns the set's name.
func (c *Curve) String() string {
	if c == nil {
		return "<nil>"
	}
	return c.Name
}
