package xmldsig

import (
	"errors"
	"strings"
	"testing"
)

// findByAttr returns the first element whose unqualified attribute name has
// value v.
func findByAttr(root *Element, name, v string) *Element {
	var found *Element
	root.Walk(func(e *Element) bool {
		if got, ok := e.AttrValue("", name); ok && got == v {
			found = e
			return false
		}
		return true
	})
	return found
}

// The W3C exc-c14n recommendation's own example (§2.2): both documents'
// n1:elem2 subtrees have the same exclusive canonical form, which drops the
// ancestors' unused declarations and their xml:* attributes.
func TestCanonicalizeW3CExample(t *testing.T) {
	const want = "<n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n" +
		"     <n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff>\n" +
		"  </n1:elem2>"
	docs := []string{
		"<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\">\n" +
			"  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n" +
			"     <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n" +
			"  </n1:elem2>\n" +
			"</n0:local>",
		"<n2:pdu xmlns:n1=\"http://example.com\"\n" +
			"           xmlns:n2=\"http://foo.example\"\n" +
			"           xml:lang=\"fr\"\n" +
			"           xml:space=\"retain\">\n" +
			"  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n" +
			"     <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n" +
			"  </n1:elem2>\n" +
			"</n2:pdu>",
	}
	for i, doc := range docs {
		root, err := Parse([]byte(doc), Limits{})
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		elem2 := root.ChildrenNamed("http://example.net", "elem2")
		if len(elem2) != 1 {
			t.Fatalf("doc %d: elem2 not found", i)
		}
		got, err := Canonicalize(elem2[0], nil)
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if string(got) != want {
			t.Errorf("doc %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

// Hand-checked cases, each for one rule of exc-c14n.
func TestCanonicalizeRules(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		prefixes []string
		want     string
	}{
		{
			name: "default namespace undeclared under a default-namespace parent",
			doc:  `<a xmlns="urn:a"><b Id="x" xmlns=""><c/></b></a>`,
			want: `<b Id="x"><c></c></b>`,
		},
		{
			name: "xmlns empty rendered when an output ancestor rendered a default",
			doc:  `<a xmlns="urn:a" Id="x"><b xmlns=""><c/></b></a>`,
			want: `<a xmlns="urn:a" Id="x"><b xmlns=""><c></c></b></a>`,
		},
		{
			name: "attributes sorted by namespace URI, not by prefix",
			doc:  `<e Id="x" xmlns:b="urn:a" xmlns:a="urn:b" a:attr="2" b:attr="1" z="0" Aa="-"/>`,
			want: `<e xmlns:a="urn:b" xmlns:b="urn:a" Aa="-" Id="x" z="0" b:attr="1" a:attr="2"></e>`,
		},
		{
			name: "a prefix rebound inside the subtree is rendered again",
			doc:  `<p:r xmlns:p="urn:1"><p:s Id="x"><p:t xmlns:p="urn:2"><p:u xmlns:p="urn:1"/></p:t></p:s></p:r>`,
			want: `<p:s xmlns:p="urn:1" Id="x"><p:t xmlns:p="urn:2"><p:u xmlns:p="urn:1"></p:u></p:t></p:s>`,
		},
		{
			name: "redundant declarations dropped, unused ones not rendered",
			doc:  `<r xmlns:p="urn:p" xmlns:q="urn:q"><p:s Id="x" xmlns:p="urn:p" xmlns:unused="urn:u"><p:t xmlns:p="urn:p"/></p:s></r>`,
			want: `<p:s xmlns:p="urn:p" Id="x"><p:t></p:t></p:s>`,
		},
		{
			name: "a declaration is rendered where first used, not on an unusing ancestor",
			doc:  `<s Id="x" xmlns:p="urn:p"><t><p:u/></t><p:v/></s>`,
			want: `<s Id="x"><t><p:u xmlns:p="urn:p"></p:u></t><p:v xmlns:p="urn:p"></p:v></s>`,
		},
		{
			name:     "InclusiveNamespaces renders an unused in-scope prefix on the apex",
			doc:      `<r xmlns:soap="urn:soap" xmlns:p="urn:p"><s Id="x"><soap:t/></s></r>`,
			prefixes: []string{"soap", "p", "absent"},
			want:     `<s xmlns:p="urn:p" xmlns:soap="urn:soap" Id="x"><soap:t></soap:t></s>`,
		},
		{
			name:     "#default in the PrefixList",
			doc:      `<r xmlns="urn:d"><x:s xmlns:x="urn:x" Id="x"/></r>`,
			prefixes: []string{"#default"},
			want:     `<x:s xmlns="urn:d" xmlns:x="urn:x" Id="x"></x:s>`,
		},
		{
			name: "text and attribute escaping, CR, CDATA, PIs, whitespace in tags",
			doc:  "<r><s Id='x' \n a = \"&lt;&amp;&gt;&quot;'&#9;&#10;&#13;\" b=\"l1\nl2\tt\"\n>a&gt;b\r\nc&#13;<![CDATA[<&>]]><?pi  data ?><?empty?></s></r>",
			want: `<s Id="x" a="&lt;&amp;>&quot;'&#x9;&#xA;&#xD;" b="l1 l2 t">a&gt;b` + "\n" + `c&#xD;&lt;&amp;&gt;<?pi data ?><?empty?></s>`,
		},
		{
			name: "xml:lang on an ancestor is not inherited; own xml attributes kept",
			doc:  `<r xml:lang="ru"><s Id="x" xml:space="preserve">Текст</s></r>`,
			want: `<s Id="x" xml:space="preserve">Текст</s>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse([]byte(tc.doc), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			e := findByAttr(root, "Id", "x")
			if e == nil {
				t.Fatal("no element with Id x")
			}
			got, err := Canonicalize(e, tc.prefixes)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// sigTemplate is an xmlsec1 signing template with one exc-c14n reference to
// #x, with an InclusiveNamespaces PrefixList when prefixList is not empty.
func sigTemplate(prefixList string) string {
	incl := ""
	if prefixList != "" {
		incl = `<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="` + prefixList + `"/>`
	}
	return `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
		`<ds:Reference URI="#x"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">` + incl +
		`</ds:Transform></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>` +
		`</ds:SignedInfo><ds:SignatureValue/></ds:Signature>`
}

// Our exc-c14n agrees byte for byte with xmlsec1's (libxml2's) on inputs
// written as other systems write them. Each document holds the template
// just before the document element's end tag; the element with Id="x" is
// registered with xmlsec1 by its name.
func TestCanonicalizeAgreesWithXmlsec1(t *testing.T) {
	tests := []struct {
		name       string
		doc        string // "%SIG%" is replaced by the signature template
		idElement  string // xmlsec1's [ns:]name of the element with Id="x"
		prefixList string
	}{
		{
			name:      "SOAP body with prefixes declared on the envelope",
			doc:       `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:m="urn:msg"><soap:Header><wsa:To>urn:to</wsa:To>%SIG%</soap:Header><soap:Body Id="x"><m:req m:v="1" xmlns:m="urn:msg"><m:a>Иванов</m:a><b xmlns="urn:def">x</b></m:req></soap:Body></soap:Envelope>`,
			idElement: "http://www.w3.org/2003/05/soap-envelope:Body",
		},
		{
			name:      "default namespaces declared then undeclared then redeclared",
			doc:       `<root xmlns="urn:d1" xmlns:p="urn:p"><e Id="x"><f xmlns=""><g xmlns="urn:d2"><h xmlns="urn:d1"/></g></f><p:i/></e>%SIG%</root>`,
			idElement: "urn:d1:e",
		},
		{
			name:      "attributes in several namespaces and orders",
			doc:       `<r xmlns:z="urn:a" xmlns:a="urn:z"><e Id="x" z:k="1" a:k="2" b="3" a:a="4" z:z="5"><f a:x="" z:x=""/></e>%SIG%</r>`,
			idElement: "e",
		},
		{
			name:      "whitespace and line ends and references and CDATA and PIs",
			doc:       "<r>\r\n  <e   Id = 'x'  a=\"1&#9;2\n3\r\n4&#13;\" >\r\n text &amp; &lt; &gt; &#xD; \r <![CDATA[ <cdata> & ]]> <?target  some data?> </e  >\n%SIG%</r>",
			idElement: "e",
		},
		{
			name:       "InclusiveNamespaces PrefixList",
			doc:        `<r xmlns="urn:d" xmlns:soap="urn:soap" xmlns:p="urn:p" xmlns:q="urn:q"><p:e Id="x"><f/></p:e>%SIG%</r>`,
			idElement:  "urn:p:e",
			prefixList: "#default soap q nothere",
		},
		{
			name:      "prefix rebound to another namespace in the subtree",
			doc:       `<p:r xmlns:p="urn:1"><p:e Id="x" xmlns:q="urn:q"><p:f xmlns:p="urn:2" q:a="1"><p:g xmlns:p="urn:1"/></p:f></p:e>%SIG%</p:r>`,
			idElement: "urn:1:e",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(tc.doc, "%SIG%", sigTemplate(tc.prefixList), 1)
			want := xmlsecPreDigest(t, []byte(doc), []string{"--id-attr:Id", tc.idElement}, tc.prefixList)
			root, err := Parse([]byte(doc), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			e := findByAttr(root, "Id", "x")
			got, err := Canonicalize(e, strings.Fields(tc.prefixList))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("\n  ours %q\nxmlsec %q", got, want)
			}
		})
	}
}

func TestCanonicalizeUndeclaredPrefixBuiltInCode(t *testing.T) {
	e := NewElement("urn:x", "x", "e")
	if _, err := Canonicalize(e, nil); !errors.Is(err, ErrUndeclaredPrefix) {
		t.Fatalf("got %v, want ErrUndeclaredPrefix", err)
	}
}
