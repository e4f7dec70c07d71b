package xmldsig

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var idAttr = []Name{{Local: "Id"}}

const unsignedDoc = `<?xml version="1.0"?>
<m:msg xmlns:m="urn:msg" xmlns:unused="urn:unused">
  <m:head Id="h"><m:to>urn:somewhere</m:to></m:head>
  <m:body Id="b" xmlns="urn:data"><item n="1">Иванов &amp; сын</item><item n="2"/></m:body>
  <m:sec/>
</m:msg>`

// signDoc signs the elements with Id h and b and puts the signature in
// m:sec; it returns the serialized document.
func signDoc(t *testing.T, s *ecdsaSigner) []byte {
	t.Helper()
	root, err := Parse([]byte(unsignedDoc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sec := root.ChildrenNamed("urn:msg", "sec")[0]
	refs := []Reference{{ID: "h"}, {ID: "b", InclusivePrefixes: []string{"unused"}}}
	if _, err := Sign(context.Background(), s, sec, refs, SignOptions{IDAttrs: idAttr}); err != nil {
		t.Fatal(err)
	}
	return Serialize(root)
}

func verifyDoc(doc []byte, s *ecdsaSigner) (*Verified, *Element, error) {
	root, err := Parse(doc, Limits{})
	if err != nil {
		return nil, nil, err
	}
	var sig *Element
	root.Walk(func(e *Element) bool {
		if e.Is(NamespaceDSig, "Signature") {
			sig = e
			return false
		}
		return true
	})
	if sig == nil {
		return nil, root, errors.New("no signature")
	}
	v, err := Verify(sig, s.Cert, VerifyOptions{IDAttrs: idAttr})
	return v, root, err
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := newECDSASigner(t)
	doc := signDoc(t, s)
	v, root, err := verifyDoc(doc, s)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if len(v.References) != 2 || v.Algorithm != s.Algorithm() || v.SignatureMethod != SignatureECDSASHA256 {
		t.Fatalf("verified %+v", v)
	}
	head := root.ChildrenNamed("urn:msg", "head")[0]
	body := root.ChildrenNamed("urn:msg", "body")[0]
	if !v.Covers(head) || !v.Covers(body) || v.Covers(root) {
		t.Errorf("Covers does not name exactly the signed elements")
	}
}

func TestSignRefuses(t *testing.T) {
	s := newECDSASigner(t)
	tests := []struct {
		name string
		doc  string
		ref  string
		want error
	}{
		{"missing ID", `<r><s/></r>`, "nope", ErrIDNotFound},
		{"duplicate ID", `<r><a Id="x"/><b Id="x"/><s/></r>`, "x", ErrDuplicateID},
		{"signature inside the signed element", `<r Id="x"><s/></r>`, "x", ErrEnveloping},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse([]byte(tc.doc), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			parent := root.Elements()[len(root.Elements())-1]
			_, err = Sign(context.Background(), s, parent, []Reference{{ID: tc.ref}}, SignOptions{IDAttrs: idAttr})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if len(parent.Children) != 0 {
				t.Errorf("a failed Sign left content behind")
			}
		})
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	s := newECDSASigner(t)
	other := newECDSASigner(t)
	doc := string(signDoc(t, s))
	tests := []struct {
		name   string
		edit   func(string) string
		signer *ecdsaSigner
		want   error
	}{
		{"signed text changed", func(d string) string { return strings.Replace(d, "Иванов", "Петров", 1) }, s, ErrDigestMismatch},
		{"signed attribute changed", func(d string) string { return strings.Replace(d, `n="2"`, `n="3"`, 1) }, s, ErrDigestMismatch},
		{"signed header changed", func(d string) string { return strings.Replace(d, "urn:somewhere", "urn:elsewhere", 1) }, s, ErrDigestMismatch},
		{"digest value changed", func(d string) string {
			i := strings.Index(d, "<ds:DigestValue>") + len("<ds:DigestValue>")
			return d[:i] + "AAAA" + d[i+4:]
		}, s, ErrSignatureInvalid},
		{"another key", func(d string) string { return d }, other, ErrSignatureInvalid},
		{"signature value garbled", func(d string) string {
			i := strings.Index(d, "<ds:SignatureValue>") + len("<ds:SignatureValue>")
			return d[:i] + "!!" + d[i+2:]
		}, s, ErrSignatureStructure},
		{"signature method unknown", func(d string) string {
			return strings.Replace(d, SignatureECDSASHA256, "http://www.w3.org/2000/09/xmldsig#hmac-sha1", 1)
		}, s, ErrUnsupportedAlgorithm},
		{"ГОСТ signature method over an ECDSA key", func(d string) string {
			return strings.Replace(d, SignatureECDSASHA256, SignatureGOST2012_256, 1)
		}, s, ErrKeyMismatch},
		{"canonicalization method not exc-c14n", func(d string) string {
			return strings.Replace(d, `<ds:CanonicalizationMethod Algorithm="`+ExcC14N, `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315`, 1)
		}, s, ErrUnsupportedTransform},
		{"ID duplicated elsewhere", func(d string) string {
			return strings.Replace(d, "<m:sec>", `<m:sec><m:body Id="b"/>`, 1)
		}, s, ErrDuplicateID},
		{"ID removed", func(d string) string { return strings.Replace(d, `Id="h"`, `Id="gone"`, 1) }, s, ErrIDNotFound},
		{"wrapped: signed element moved and replaced", func(d string) string {
			// the original body moves into an unsigned wrapper and a new
			// body takes its place: the ID still resolves to exactly one
			// element, the original, and the verified reference names it,
			// not the replacement
			i := strings.Index(d, `<m:body`)
			j := strings.Index(d, `</m:body>`) + len(`</m:body>`)
			orig := d[i:j]
			d = d[:i] + `<m:body xmlns="urn:data"><item n="1">forged</item></m:body>` + d[j:]
			return strings.Replace(d, "<m:sec>", "<m:sec><m:wrap>"+orig+"</m:wrap>", 1)
		}, s, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, root, err := verifyDoc([]byte(tc.edit(doc)), tc.signer)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				// The wrapping case verifies, but the verified element
				// is not the document's m:body child: callers that read
				// only verified elements never see the forgery, and a
				// caller that checks position (as wssec does) refuses it.
				body := root.ChildrenNamed("urn:msg", "body")[0]
				if v.Covers(body) {
					t.Fatal("the replacement body counts as verified")
				}
			}
		})
	}
}

// Our signatures verify with xmlsec1.
func TestXmlsec1VerifiesOurs(t *testing.T) {
	bin := needXmlsec1(t)
	s := newECDSASigner(t)
	dir := t.TempDir()
	_, certFile := s.WritePEM(t, dir)
	for _, tc := range []struct {
		name string
		edit func(string) string
		ok   bool
	}{
		{"as signed", func(d string) string { return d }, true},
		{"tampered", func(d string) string { return strings.Replace(d, "Иванов", "Петров", 1) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := filepath.Join(dir, "signed.xml")
			if err := os.WriteFile(doc, []byte(tc.edit(string(signDoc(t, s)))), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--verify", "--id-attr:Id", "urn:msg:head", "--id-attr:Id", "urn:msg:body",
				"--pubkey-cert-pem", certFile, doc).CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("xmlsec1 verify: %v, want ok=%v\n%s", err, tc.ok, out)
			}
		})
	}
}

// Documents signed by xmlsec1 verify with ours; the forms we refuse are
// refused with the right error.
func TestVerifyXmlsec1Signed(t *testing.T) {
	bin := needXmlsec1(t)
	s := newECDSASigner(t)
	dir := t.TempDir()
	keyFile, _ := s.WritePEM(t, dir)
	sig := func(uri, transforms string) string {
		return `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
			`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="p"/></ds:CanonicalizationMethod>` +
			`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
			`<ds:Reference URI="` + uri + `"><ds:Transforms>` + transforms + `</ds:Transforms>` +
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>` +
			`</ds:SignedInfo><ds:SignatureValue/></ds:Signature>`
	}
	const exc = `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`
	const env = `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>`
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"exc-c14n reference", `<p:r xmlns:p="urn:p" xmlns="urn:d"><a Id="x" b="1"><c>text</c></a><s>` + sig("#x", exc) + `</s></p:r>`, nil},
		{"enveloped then exc-c14n", `<p:r xmlns:p="urn:p" Id="x"><a>text</a>` + sig("#x", env+exc) + `</p:r>`, nil},
		{"inclusive c14n transform", `<r><a Id="x"/>` + sig("#x", `<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>`) + `</r>`, ErrUnsupportedTransform},
		{"whole-document reference", `<r><a Id="x"/>` + sig("", env+exc) + `</r>`, ErrReferenceURI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(dir, "tmpl.xml")
			out := filepath.Join(dir, "out.xml")
			if err := os.WriteFile(in, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			msg, err := exec.Command(bin, "--sign", "--privkey-pem", keyFile, "--id-attr:Id", "a", "--id-attr:Id", "urn:p:r",
				"--output", out, in).CombinedOutput()
			if err != nil {
				t.Fatalf("xmlsec1 sign: %v\n%s", err, msg)
			}
			signed, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = verifyDoc(signed, s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v\n%s", err, tc.want, signed)
			}
		})
	}
}
