package wssec

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

const transportHeader = `<egisz:transportHeader xmlns:egisz="http://egisz.rosminzdrav.ru"><egisz:authInfo><egisz:clientEntityId>0b8a1c52-5c4e-4b4e-9d0e-3c1f6f7a2b11</egisz:clientEntityId></egisz:authInfo></egisz:transportHeader>`

func testEnvelope(v Version) Envelope {
	return Envelope{
		Version: v,
		Headers: [][]byte{[]byte(transportHeader)},
		Addressing: Addressing{
			Action:    "sendDocument",
			MessageID: "urn:uuid:6b29fc40-ca47-1067-b31d-00dd010662da",
			To:        "https://ips.rosminzdrav.ru/57ad868a70467",
			ReplyTo:   AnonymousAddress,
		},
		Body: []byte(`
  <emdr:registerDocumentRequest xmlns:emdr="http://egisz.rosminzdrav.ru/iehr/emdr/service/" xmlns="urn:default">
    <emdr:kind>148</emdr:kind><plain a="1">текст &amp; &lt;x&gt;</plain>
  </emdr:registerDocumentRequest>
`),
	}
}

func trustOnly(cert *x509.Certificate) func(*x509.Certificate) error {
	return func(c *x509.Certificate) error {
		if !c.Equal(cert) {
			return errors.New("unknown certificate")
		}
		return nil
	}
}

func signed(t testing.TB, s *ecdsaSigner, env Envelope) []byte {
	t.Helper()
	b, err := Sign(context.Background(), s, env, SignOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := newECDSASigner(t)
	for _, v := range []Version{SOAP11, SOAP12} {
		t.Run(v.String(), func(t *testing.T) {
			env := testEnvelope(v)
			doc := signed(t, s, env)
			got, err := Verify(doc, VerifyOptions{TrustCertificate: trustOnly(s.Cert), Now: t0.Add(time.Minute)})
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if got.Version != v || got.Addressing != env.Addressing || !got.Certificate.Equal(s.Cert) {
				t.Errorf("verified %v %+v", got.Version, got.Addressing)
			}
			if !got.Body.Is(v.Namespace(), "Body") || got.Body.Parent.Parent != nil {
				t.Errorf("Body is not the envelope's Body")
			}
			kind := got.Body.Elements()[0].Elements()[0]
			if kind.Local != "kind" || kind.Text() != "148" {
				t.Errorf("body content %q %q", kind.Local, kind.Text())
			}
			if !got.Timestamp.Created.Equal(t0) || !got.Timestamp.Expires.Equal(t0.Add(5*time.Minute)) {
				t.Errorf("timestamp %+v", got.Timestamp)
			}
			for _, p := range []Part{PartAction, PartMessageID, PartTo, PartReplyTo} {
				if got.Headers[p] == nil {
					t.Errorf("%s not among the signed headers", p)
				}
			}
		})
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	s := newECDSASigner(t)
	tests := []struct {
		name string
		edit func(*Envelope)
	}{
		{"unknown version", func(e *Envelope) { e.Version = 3 }},
		{"body with a DTD", func(e *Envelope) { e.Body = []byte(`<!DOCTYPE x><x/>`) }},
		{"body not well-formed", func(e *Envelope) { e.Body = []byte(`<a><b></a>`) }},
		{"body with an undeclared prefix", func(e *Envelope) { e.Body = []byte(`<m:a/>`) }},
		{"body with bare text", func(e *Envelope) { e.Body = []byte(`text<a/>`) }},
		{"header that is two elements", func(e *Envelope) { e.Headers = [][]byte{[]byte(`<a/><b/>`)} }},
		{"header reusing our wsu:Id", func(e *Envelope) {
			e.Headers = [][]byte{[]byte(`<h xmlns:wsu="` + NamespaceWSU + `" wsu:Id="id-body"/>`)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnvelope(SOAP12)
			tc.edit(&env)
			if _, err := Sign(context.Background(), s, env, SignOptions{Now: t0}); !errors.Is(err, ErrBadInput) {
				t.Fatalf("got %v, want ErrBadInput", err)
			}
		})
	}
}

// edit parses a signed envelope, lets fn change the tree, and serializes it.
func edit(t *testing.T, doc []byte, fn func(env, header, security, body *xmldsig.Element)) []byte {
	t.Helper()
	root, err := xmldsig.Parse(doc, xmldsig.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	header, body := root.Elements()[0], root.Elements()[1]
	security := header.ChildrenNamed(NamespaceWSSE, "Security")[0]
	fn(root, header, security, body)
	return xmldsig.Serialize(root)
}

func remove(parent, child *xmldsig.Element) {
	for i, c := range parent.Children {
		if c == child {
			parent.Children = append(parent.Children[:i:i], parent.Children[i+1:]...)
			return
		}
	}
}

func clone(t *testing.T, e *xmldsig.Element) *xmldsig.Element {
	t.Helper()
	// a copy through the canonical form keeps the namespaces it uses
	c, err := xmldsig.Canonicalize(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := xmldsig.Parse(c, xmldsig.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyRefuses(t *testing.T) {
	s := newECDSASigner(t)
	other := newECDSASigner(t)
	doc := signed(t, s, testEnvelope(SOAP12))
	doc11 := signed(t, s, testEnvelope(SOAP11))
	otherDoc := signed(t, other, testEnvelope(SOAP12))
	tests := []struct {
		name string
		doc  []byte
		opts func(*VerifyOptions)
		want error
	}{
		{"body text changed", bytes.Replace(doc, []byte("текст"), []byte("ТЕКСТ"), 1), nil, xmldsig.ErrDigestMismatch},
		{"body element added", bytes.Replace(doc, []byte("<emdr:kind>"), []byte("<emdr:extra/><emdr:kind>"), 1), nil, xmldsig.ErrDigestMismatch},
		{"Action changed", bytes.Replace(doc, []byte(">sendDocument<"), []byte(">deleteDocument<"), 1), nil, xmldsig.ErrDigestMismatch},
		{"To changed", bytes.Replace(doc, []byte("57ad868a70467"), []byte("57ad868a70468"), 1), nil, xmldsig.ErrDigestMismatch},
		{"timestamp extended", bytes.Replace(doc, []byte("10:05:00.000Z"), []byte("18:05:00.000Z"), 1), nil, xmldsig.ErrDigestMismatch},
		{"signature value from another message", func() []byte {
			// graft the other signer's whole Signature: its SignedInfo
			// digests the other message's timestamp and token
			return edit(t, doc, func(_, _, security, _ *xmldsig.Element) {
				root, _ := xmldsig.Parse(otherDoc, xmldsig.Limits{})
				var osig *xmldsig.Element
				root.Walk(func(e *xmldsig.Element) bool {
					if e.Is(xmldsig.NamespaceDSig, "Signature") {
						osig = e
					}
					return osig == nil
				})
				sig := security.ChildrenNamed(xmldsig.NamespaceDSig, "Signature")[0]
				remove(security, sig)
				security.AppendChild(clone(t, osig))
			})
		}(), nil, xmldsig.ErrSignatureInvalid},
		{"token swapped for another certificate", edit(t, doc, func(_, _, security, _ *xmldsig.Element) {
			bst := security.ChildrenNamed(NamespaceWSSE, "BinarySecurityToken")[0]
			bst.SetText(base64.StdEncoding.EncodeToString(other.Cert.Raw))
		}), func(o *VerifyOptions) { o.TrustCertificate = func(*x509.Certificate) error { return nil } }, xmldsig.ErrSignatureInvalid},
		{"untrusted certificate", doc, func(o *VerifyOptions) { o.TrustCertificate = trustOnly(other.Cert) }, ErrUntrusted},
		{"expired", doc, func(o *VerifyOptions) { o.Now = t0.Add(6*time.Minute + time.Second) }, ErrExpired},
		{"expired even in SOAP 1.1", doc11, func(o *VerifyOptions) { o.Now = t0.Add(time.Hour) }, ErrExpired},
		{"created in the future", doc, func(o *VerifyOptions) { o.Now = t0.Add(-2 * time.Minute) }, ErrNotYetValid},
		{"wrapping: signed body moved into a header, forged body in its place", edit(t, doc, func(env, header, _, body *xmldsig.Element) {
			wrapper := xmldsig.NewElement("urn:evil", "", "Wrapper")
			wrapper.DeclareNS("", "urn:evil")
			remove(env, body)
			wrapper.AppendChild(body)
			header.AppendChild(wrapper)
			forged := xmldsig.NewElement(body.Space, "soap", "Body")
			forged.AppendChild(&xmldsig.Text{Data: "forged"})
			env.AppendChild(forged)
		}), nil, ErrUnsignedPart},
		{"wrapping: a second Body after the signed one", edit(t, doc, func(env, _, _, body *xmldsig.Element) {
			env.AppendChild(xmldsig.NewElement(body.Space, "soap", "Body"))
		}), nil, ErrNotEnvelope},
		{"wrapping: signed body duplicated under the same wsu:Id", edit(t, doc, func(_, header, _, body *xmldsig.Element) {
			header.AppendChild(clone(t, body))
		}), nil, xmldsig.ErrDuplicateID},
		{"wrapping: signed timestamp moved, unsigned fresh one in its place", edit(t, doc, func(_, header, security, _ *xmldsig.Element) {
			ts := security.ChildrenNamed(NamespaceWSU, "Timestamp")[0]
			remove(security, ts)
			header.AppendChild(ts)
			fresh := clone(t, ts)
			fresh.Attr = nil
			security.AppendChild(fresh)
		}), nil, ErrUnsignedPart},
		{"unsigned RelatesTo header added", edit(t, doc, func(_, header, _, _ *xmldsig.Element) {
			e := xmldsig.NewElement(NamespaceWSA, "wsa", "RelatesTo")
			e.SetText("urn:uuid:forged")
			header.AppendChild(e)
		}), nil, ErrUnsignedPart},
		{"signed Action duplicated by an unsigned one", edit(t, doc, func(_, header, _, _ *xmldsig.Element) {
			e := xmldsig.NewElement(NamespaceWSA, "wsa", "Action")
			e.SetText("deleteDocument")
			header.AppendChild(e)
		}), nil, ErrDuplicateHeader},
		{"required header missing", doc, func(o *VerifyOptions) { o.MustHave = []Part{PartRelatesTo} }, ErrMissingPart},
		{"two Security headers", edit(t, doc, func(_, header, security, _ *xmldsig.Element) {
			header.AppendChild(xmldsig.NewElement(NamespaceWSSE, "wsse", "Security"))
		}), nil, ErrSecurityHeader},
		{"no Security header", edit(t, doc, func(_, header, security, _ *xmldsig.Element) {
			remove(header, security)
		}), nil, ErrSecurityHeader},
		{"token reference to an element elsewhere", edit(t, doc, func(_, header, _, _ *xmldsig.Element) {
			// the Action carries an ID: pointing KeyInfo at it must fail
			var ref *xmldsig.Element
			header.Walk(func(e *xmldsig.Element) bool {
				if e.Is(NamespaceWSSE, "Reference") {
					ref = e
				}
				return ref == nil
			})
			ref.SetAttr("", "", "URI", "#id-action")
		}), nil, ErrToken},
		{"token not a certificate", edit(t, doc, func(_, _, security, _ *xmldsig.Element) {
			security.ChildrenNamed(NamespaceWSSE, "BinarySecurityToken")[0].SetText("AAAA")
		}), nil, ErrToken},
		{"not an envelope", []byte(`<Envelope><Header/><Body/></Envelope>`), nil, ErrNotEnvelope},
		{"DTD with an external entity", []byte(`<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><soap:Envelope xmlns:soap="` + NamespaceSOAP12 + `"><soap:Body>&x;</soap:Body></soap:Envelope>`), nil, xmldsig.ErrDTD},
		{"garbage", []byte("\x1f\x8b\x08\x00garbage"), nil, xmldsig.ErrMalformed},
		{"too large", doc, func(o *VerifyOptions) { o.Limits.MaxBytes = 1024 }, xmldsig.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{TrustCertificate: trustOnly(s.Cert), Now: t0.Add(time.Minute)}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v, err := Verify(tc.doc, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (verified %v), want %v", err, v != nil, tc.want)
			}
			if v != nil {
				t.Fatal("a refused envelope came back verified")
			}
		})
	}
}

// The signing envelope still verifies where the caller chose to accept
// unsigned addressing headers.
func TestVerifyMustSignNone(t *testing.T) {
	s := newECDSASigner(t)
	doc := edit(t, signed(t, s, testEnvelope(SOAP11)), func(_, header, _, _ *xmldsig.Element) {
		e := xmldsig.NewElement(NamespaceWSA, "wsa", "RelatesTo")
		e.SetText("urn:uuid:x")
		header.AppendChild(e)
	})
	v, err := Verify(doc, VerifyOptions{TrustCertificate: trustOnly(s.Cert), Now: t0, MustSign: []Part{}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Addressing.RelatesTo != "" || v.Headers[PartRelatesTo] != nil {
		t.Error("an unsigned header's value was returned as verified")
	}
}

var xmlsecIDArgs = []string{
	"--id-attr:Id", NamespaceSOAP11 + ":Body",
	"--id-attr:Id", NamespaceSOAP12 + ":Body",
	"--id-attr:Id", NamespaceWSU + ":Timestamp",
	"--id-attr:Id", NamespaceWSA + ":Action",
	"--id-attr:Id", NamespaceWSA + ":MessageID",
	"--id-attr:Id", NamespaceWSA + ":To",
	"--id-attr:Id", NamespaceWSA + ":ReplyTo",
	"--id-attr:Id", NamespaceWSSE + ":BinarySecurityToken",
}

// Envelopes we sign verify with xmlsec1, each wsu:Id registered per element.
func TestXmlsec1VerifiesOurEnvelopes(t *testing.T) {
	bin := needXmlsec1(t)
	s := newECDSASigner(t)
	dir := t.TempDir()
	_, certFile := s.WritePEM(t, dir)
	for _, v := range []Version{SOAP11, SOAP12} {
		for _, tampered := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v tampered=%v", v, tampered), func(t *testing.T) {
				doc := signed(t, s, testEnvelope(v))
				if tampered {
					doc = bytes.Replace(doc, []byte("urn:uuid:6b29"), []byte("urn:uuid:7b29"), 1)
				}
				f := filepath.Join(dir, "env.xml")
				if err := os.WriteFile(f, doc, 0o600); err != nil {
					t.Fatal(err)
				}
				args := append([]string{"--verify", "--pubkey-cert-pem", certFile}, xmlsecIDArgs...)
				out, err := exec.Command(bin, append(args, f)...).CombinedOutput()
				if (err == nil) == tampered {
					t.Fatalf("xmlsec1: %v (tampered=%v)\n%s", err, tampered, out)
				}
				if !tampered && !bytes.Contains(out, []byte("SignedInfo References (ok/all): 6/6")) {
					t.Fatalf("xmlsec1 did not check all six references:\n%s", out)
				}
			})
		}
	}
}

// An envelope signed by xmlsec1 from a WS-Security template (exc-c14n
// references to the six parts, KeyInfo naming the token) verifies with ours.
func TestVerifyXmlsec1SignedEnvelope(t *testing.T) {
	bin := needXmlsec1(t)
	s := newECDSASigner(t)
	dir := t.TempDir()
	keyFile, _ := s.WritePEM(t, dir)
	now := time.Now().UTC()
	ref := func(id string) string {
		return `<ds:Reference URI="#` + id + `"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>`
	}
	tmpl := `<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">
  <S:Header>
    <a:Action xmlns:u="` + NamespaceWSU + `" u:Id="A1">sendDocument</a:Action>
    <a:MessageID xmlns:u="` + NamespaceWSU + `" u:Id="M1">urn:uuid:1</a:MessageID>
    <a:ReplyTo xmlns:u="` + NamespaceWSU + `" u:Id="R1"><a:Address>` + AnonymousAddress + `</a:Address></a:ReplyTo>
    <a:To xmlns:u="` + NamespaceWSU + `" u:Id="T1">https://ips.rosminzdrav.ru/57ad868a70467</a:To>
    <o:Security xmlns:o="` + NamespaceWSSE + `" xmlns:u="` + NamespaceWSU + `" S:mustUnderstand="true">
      <u:Timestamp u:Id="TS"><u:Created>` + now.Format(timeLayout) + `</u:Created><u:Expires>` + now.Add(5*time.Minute).Format(timeLayout) + `</u:Expires></u:Timestamp>
      <o:BinarySecurityToken u:Id="X509" ValueType="` + ValueTypeX509v3 + `" EncodingType="` + EncodingBase64Binary + `">` + base64.StdEncoding.EncodeToString(s.Cert.Raw) + `</o:BinarySecurityToken>
      <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
          <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
          ` + ref("B1") + ref("TS") + ref("A1") + ref("M1") + ref("R1") + ref("T1") + `
        </ds:SignedInfo>
        <ds:SignatureValue/>
        <ds:KeyInfo><o:SecurityTokenReference><o:Reference URI="#X509" ValueType="` + ValueTypeX509v3 + `"/></o:SecurityTokenReference></ds:KeyInfo>
      </ds:Signature>
    </o:Security>
  </S:Header>
  <S:Body xmlns:u="` + NamespaceWSU + `" u:Id="B1"><r xmlns="urn:r">тело</r></S:Body>
</S:Envelope>`
	doc := xmlsecSign(t, bin, keyFile, tmpl)
	v, err := Verify(doc, VerifyOptions{TrustCertificate: trustOnly(s.Cert)})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if v.Addressing.MessageID != "urn:uuid:1" || v.Body.Elements()[0].Text() != "тело" {
		t.Errorf("verified %+v", v.Addressing)
	}
	// and the same document changed by one character is refused
	bad := bytes.Replace(doc, []byte("тело"), []byte("тела"), 1)
	if _, err := Verify(bad, VerifyOptions{TrustCertificate: trustOnly(s.Cert)}); !errors.Is(err, xmldsig.ErrDigestMismatch) {
		t.Fatalf("tampered xmlsec1 envelope: got %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s := newECDSASigner(f)
	doc := signed(f, s, testEnvelope(SOAP12))
	f.Add(doc)
	f.Add(signed(f, s, testEnvelope(SOAP11)))
	f.Add([]byte(strings.Replace(string(doc), "id-body", "id-timestamp", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Verify(data, VerifyOptions{TrustCertificate: trustOnly(s.Cert), Now: t0})
		if err == nil && !v.Body.Is(v.Version.Namespace(), "Body") {
			t.Fatal("verified without a Body")
		}
	})
}

// xmlsecSign signs a template with xmlsec1, every wsu:Id registered.
func xmlsecSign(t *testing.T, bin, keyFile, tmpl string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "tmpl.xml"), filepath.Join(dir, "signed.xml")
	if err := os.WriteFile(in, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--sign", "--privkey-pem", keyFile}, xmlsecIDArgs...)
	if msg, err := exec.Command(bin, append(args, "--output", out, in)...).CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 sign: %v\n%s", err, msg)
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// An envelope shaped as CryptoPro's .NET and Java stacks write them for
// ИПС: SOAP 1.1 with a UTF-8 byte order mark, SignedInfo and
// SignatureValue in the default namespace inside a ds:Signature, the
// Signature before the token, Ids on KeyInfo and SecurityTokenReference,
// the Body's wsu:Id under another prefix, enveloped-signature before
// exc-c14n, an InclusiveNamespaces list, CRLF line ends and tabs, and
// wrapped base64. xmlsec1 signs it (ECDSA standing in for ГОСТ); ours must
// verify it.
func TestVerifyCryptoProShapedEnvelope(t *testing.T) {
	bin := needXmlsec1(t)
	s := newECDSASigner(t)
	keyFile, _ := s.WritePEM(t, t.TempDir())
	now := time.Now().UTC()
	ref := func(id string) string {
		return "<Reference URI=\"#" + id + "\">\r\n\t<Transforms>\r\n" +
			"\t\t<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\" />\r\n" +
			"\t\t<Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><InclusiveNamespaces xmlns=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"s xsd\" /></Transform>\r\n" +
			"\t</Transforms>\r\n\t<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\" />\r\n\t<DigestValue></DigestValue>\r\n</Reference>\r\n"
	}
	b64 := base64.StdEncoding.EncodeToString(s.Cert.Raw)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(i+64, len(b64))] + "\r\n")
	}
	tmpl := "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n" +
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:wsse="` + NamespaceWSSE + `" xmlns:wsu="` + NamespaceWSU + `">` + "\r\n" +
		"<s:Header>\r\n" +
		"\t<a:Action wsu:Id=\"id-action\">sendDocument</a:Action>\r\n" +
		`	<transportHeader xmlns="http://egisz.rosminzdrav.ru"><authInfo><clientEntityId>19723f16-0000-4000-8000-000000000000</clientEntityId></authInfo></transportHeader>` + "\r\n" +
		"\t<a:MessageID wsu:Id=\"id-msg\">43afe69d-0000-4000-8000-000000000000</a:MessageID>\r\n" +
		"\t<a:ReplyTo wsu:Id=\"id-replyto\">\r\n\t\t<a:Address>https://ips.rosminzdrav.ru/79f5771afb36b</a:Address>\r\n\t</a:ReplyTo>\r\n" +
		"\t<a:To wsu:Id=\"id-to\">https://ips.rosminzdrav.ru/8b02e1e4e03c7</a:To>\r\n" +
		"\t<wsse:Security s:mustUnderstand=\"1\">\r\n" +
		"\t\t<ds:Signature Id=\"SIG-1\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\r\n" +
		"<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\r\n" +
		"<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\" />\r\n" +
		"<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\" />\r\n" +
		ref("body") + ref("ts") + ref("id-action") + ref("id-msg") + ref("id-replyto") + ref("id-to") +
		"</SignedInfo>\r\n" +
		"<SignatureValue xmlns=\"http://www.w3.org/2000/09/xmldsig#\"></SignatureValue>\r\n" +
		"<ds:KeyInfo Id=\"KI-1\"><wsse:SecurityTokenReference wsu:Id=\"STR-1\"><wsse:Reference ValueType=\"" + ValueTypeX509v3 + "\" URI=\"#565bbb1d-0000\" /></wsse:SecurityTokenReference></ds:KeyInfo>\r\n" +
		"\t\t</ds:Signature>\r\n" +
		"\t\t<wsse:BinarySecurityToken EncodingType=\"" + EncodingBase64Binary + "\" ValueType=\"" + ValueTypeX509v3 + "\" wsu:Id=\"565bbb1d-0000\">\r\n" + wrapped.String() + "</wsse:BinarySecurityToken>\r\n" +
		"\t\t<wsu:Timestamp wsu:Id=\"ts\">\r\n\t\t\t<wsu:Created>" + now.Format(time.RFC3339) + "</wsu:Created>\r\n\t\t\t<wsu:Expires>" + now.Add(5*time.Minute).Format(time.RFC3339) + "</wsu:Expires>\r\n\t\t</wsu:Timestamp>\r\n" +
		"\t</wsse:Security>\r\n" +
		"</s:Header>\r\n" +
		`<s:Body xmlns:d2p1="` + NamespaceWSU + `" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" d2p1:Id="body">` + "\r\n" +
		"\t<checkStatus xmlns=\"http://vimis.rosminzdrav.ru/\">\r\n\t\t<msg_id xmlns=\"\" xsi:type=\"xsd:string\">a1b2</msg_id>\r\n\t</checkStatus>\r\n" +
		"</s:Body>\r\n</s:Envelope>\r\n"
	doc := xmlsecSign(t, bin, keyFile, tmpl)
	v, err := Verify(doc, VerifyOptions{TrustCertificate: trustOnly(s.Cert)})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if v.Version != SOAP11 || v.Addressing.ReplyTo != "https://ips.rosminzdrav.ru/79f5771afb36b" || v.Body.Elements()[0].Local != "checkStatus" {
		t.Errorf("verified %v %+v", v.Version, v.Addressing)
	}
	// libxml2 wrote LF line ends and no byte order mark; as sent over the
	// wire by a Windows stack, the same document has both, and means the same
	crlf := append([]byte("\xef\xbb\xbf"), bytes.ReplaceAll(doc, []byte("\n"), []byte("\r\n"))...)
	if _, err := Verify(crlf, VerifyOptions{TrustCertificate: trustOnly(s.Cert)}); err != nil {
		t.Fatalf("with CRLF and a BOM: %v", err)
	}
	bad := bytes.Replace(doc, []byte(">a1b2<"), []byte(">a1b3<"), 1)
	if _, err := Verify(bad, VerifyOptions{TrustCertificate: trustOnly(s.Cert)}); !errors.Is(err, xmldsig.ErrDigestMismatch) {
		t.Fatalf("tampered: got %v", err)
	}
}
