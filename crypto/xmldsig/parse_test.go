package xmldsig

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
	tests := []struct {
		name string
		doc  string
		lim  Limits
		want error
	}{
		{"DOCTYPE", `<!DOCTYPE r><r/>`, Limits{}, ErrDTD},
		{"internal entity (billion laughs)", `<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>`, Limits{}, ErrDTD},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/never">]><r>&x;</r>`, Limits{}, ErrDTD},
		{"external DTD", `<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>`, Limits{}, ErrDTD},
		{"undefined entity", `<r>&nbsp;</r>`, Limits{}, ErrMalformed},
		{"undefined entity in attribute", `<r a="&x;"/>`, Limits{}, ErrMalformed},
		{"too deep", deep, Limits{}, ErrTooDeep},
		{"too large", `<r>` + strings.Repeat("x", 100) + `</r>`, Limits{MaxBytes: 64}, ErrTooLarge},
		{"too many nodes", `<r>` + strings.Repeat("<a/>", 50) + `</r>`, Limits{MaxNodes: 20}, ErrTooManyNodes},
		{"undeclared element prefix", `<p:r/>`, Limits{}, ErrMalformed},
		{"undeclared attribute prefix", `<r p:a="1"/>`, Limits{}, ErrMalformed},
		{"duplicate attribute", `<r a="1" a="2"/>`, Limits{}, ErrMalformed},
		{"same attribute through two prefixes", `<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>`, Limits{}, ErrMalformed},
		{"prefix undeclared (XML 1.0 forbids)", `<r xmlns:p=""/>`, Limits{}, ErrMalformed},
		{"xml prefix rebound", `<r xmlns:xml="urn:x"/>`, Limits{}, ErrMalformed},
		{"mismatched end tag", `<r><a></b></r>`, Limits{}, ErrMalformed},
		{"unclosed", `<r><a>`, Limits{}, ErrMalformed},
		{"two document elements", `<r/><s/>`, Limits{}, ErrMalformed},
		{"text after the document element", `<r/>x`, Limits{}, ErrMalformed},
		{"empty", ``, Limits{}, ErrMalformed},
		{"not UTF-8", "<r>\xff</r>", Limits{}, ErrMalformed},
		{"another encoding", `<?xml version="1.0" encoding="windows-1251"?><r/>`, Limits{}, ErrMalformed},
		{"garbage", "\x00\x01binary", Limits{}, ErrMalformed},
		{"control character", "<r>\x01</r>", Limits{}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse([]byte(tc.doc), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (root %v), want %v", err, root, tc.want)
			}
		})
	}
}

func TestParseAcceptsByteOrderMark(t *testing.T) {
	for _, doc := range []string{"\xef\xbb\xbf<?xml version=\"1.0\"?><r a=\"1\"/>", "\xef\xbb\xbf<r a=\"1\"/>"} {
		root, err := Parse([]byte(doc), Limits{})
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if c, _ := Canonicalize(root, nil); string(c) != `<r a="1"></r>` {
			t.Errorf("%q: canonical form %q", doc, c)
		}
	}
}

func TestParseKeepsWhatC14NNeeds(t *testing.T) {
	doc := `<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<p:r xmlns:p="urn:p" xmlns="urn:d" p:z="1" a="v&#10;w
x"><c xmlns="">t<!-- dropped -->u<?pi d?></c></p:r>`
	root, err := Parse([]byte(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if root.Space != "urn:p" || root.Prefix != "p" || root.Local != "r" {
		t.Errorf("root name %q %q %q", root.Space, root.Prefix, root.Local)
	}
	if len(root.NS) != 2 || root.NS[0] != (NSDecl{"p", "urn:p"}) || root.NS[1] != (NSDecl{"", "urn:d"}) {
		t.Errorf("declarations %v", root.NS)
	}
	if len(root.Attr) != 2 || root.Attr[0].Space != "urn:p" || root.Attr[1].Value != "v\nw x" {
		t.Errorf("attributes %+v", root.Attr)
	}
	c := root.Elements()[0]
	if c.Space != "" || c.Parent != root || c.Text() != "tu" {
		t.Errorf("child %+v text %q", c, c.Text())
	}
	if pi, ok := c.Children[len(c.Children)-1].(*ProcInst); !ok || pi.Target != "pi" {
		t.Errorf("processing instruction lost: %#v", c.Children)
	}
	// Serialize and parse again: the same canonical form.
	again, err := Parse(Serialize(root), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Canonicalize(root, nil)
	b, _ := Canonicalize(again, nil)
	if !bytes.Equal(a, b) {
		t.Errorf("round trip changed the canonical form:\n%s\n%s", a, b)
	}
}

// FuzzParse: no input panics, and a document that parses serializes to one
// that parses to the same canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<r/>`,
		`<p:r xmlns:p="urn:p" xmlns="urn:d" a="1&#9;"><c xmlns="">t<?pi d?></c><![CDATA[x]]></p:r>`,
		`<!DOCTYPE r><r/>`,
		"<r a='\r\n'>\r\n</r>",
		`<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body wsu:Id="b" xmlns:wsu="urn:wsu"/></soap:Envelope>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := Parse(data, Limits{MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		c1, err := Canonicalize(root, []string{"#default", "p"})
		if err != nil {
			t.Fatalf("canonicalize a parsed document: %v", err)
		}
		again, err := Parse(Serialize(root), Limits{})
		if err != nil {
			t.Fatalf("parse the serialized document: %v", err)
		}
		c2, err := Canonicalize(again, []string{"#default", "p"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form changed over serialization:\n%q\n%q", c1, c2)
		}
		// every element's canonical form parses
		root.Walk(func(e *Element) bool {
			c, err := Canonicalize(e, nil)
			if err != nil {
				t.Fatalf("canonicalize <%s>: %v", e.Local, err)
			}
			if _, err := Parse(c, Limits{}); err != nil {
				t.Fatalf("canonical form of <%s> does not parse: %v\n%q", e.Local, err, c)
			}
			return true
		})
	})
}

// FuzzCanonicalize: any parsed element canonicalizes under any PrefixList
// without panicking, and canonicalizing the canonical form again changes
// nothing (exc-c14n of a canonical, self-contained subtree is a fixed point).
func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`<p:r xmlns:p="urn:p" xmlns="urn:d" b="2" a="1"><c xmlns="" p:x="&#13;">t</c></p:r>`), "p #default")
	f.Add([]byte(`<a xmlns:x="urn:x"><x:b xmlns:x="urn:y"/></a>`), "x")
	f.Fuzz(func(t *testing.T, data []byte, prefixList string) {
		root, err := Parse(data, Limits{MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		prefixes := strings.Fields(prefixList)
		root.Walk(func(e *Element) bool {
			c1, err := Canonicalize(e, prefixes)
			if err != nil {
				t.Fatalf("canonicalize <%s>: %v", e.Local, err)
			}
			again, err := Parse(c1, Limits{})
			if err != nil {
				t.Fatalf("canonical form does not parse: %v\n%q", err, c1)
			}
			c2, err := Canonicalize(again, prefixes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c1, c2) {
				t.Fatalf("not a fixed point:\n%q\n%q", c1, c2)
			}
			return true
		})
	})
}

func TestParseHead(t *testing.T) {
	body := func(e *Element) bool { return e.Is("urn:x", "body") }
	tests := []struct {
		name string
		doc  string
		lim  Limits
		want string // the canonical head; "" when an error is wanted
		err  error
	}{
		{"stops at the body", `<r xmlns="urn:x"><h a="1">t</h><body><p/></body></r>`, Limits{}, `<r xmlns="urn:x"><h a="1">t</h></r>`, nil},
		{"what follows the body is not read", `<r xmlns="urn:x"><h/><body><p></q>&nbsp;`, Limits{}, `<r xmlns="urn:x"><h></h></r>`, nil},
		{"a body deeper down does not stop it", `<r xmlns="urn:x"><h><body/></h></r>`, Limits{}, `<r xmlns="urn:x"><h><body></body></h></r>`, nil},
		{"a body of another namespace does not stop it", `<r xmlns="urn:x"><body xmlns="urn:y"/></r>`, Limits{}, `<r xmlns="urn:x"><body xmlns="urn:y"></body></r>`, nil},
		{"no body: the whole document, checked", `<r xmlns="urn:x"><h/>`, Limits{}, "", ErrMalformed},
		{"the head is checked", `<r xmlns="urn:x"><h></g><body/></r>`, Limits{}, "", ErrMalformed},
		{"a DTD is refused", `<!DOCTYPE r><r xmlns="urn:x"><body/></r>`, Limits{}, "", ErrDTD},
		{"the whole input is bounded", `<r xmlns="urn:x"><body>` + strings.Repeat("x", 100) + `</body></r>`, Limits{MaxBytes: 64}, "", ErrTooLarge},
		{"the whole input must be UTF-8", "<r xmlns=\"urn:x\"><body>\xff</body></r>", Limits{}, "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := ParseHead([]byte(tc.doc), tc.lim, body)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := Canonicalize(root, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(c) != tc.want {
				t.Errorf("head %s, want %s", c, tc.want)
			}
		})
	}
}

// TestParseHeadIsParseWithoutStop: when stop picks nothing, ParseHead
// agrees with Parse, error for error and tree for tree.
func TestParseHeadIsParseWithoutStop(t *testing.T) {
	never := func(*Element) bool { return false }
	for _, doc := range []string{`<r/>`, `<r xmlns="urn:x"><a b="1">t</a></r>`, `<r><a></b></r>`, `<!DOCTYPE r><r/>`, "", `<r/>x`} {
		want, wantErr := Parse([]byte(doc), Limits{})
		got, gotErr := ParseHead([]byte(doc), Limits{}, never)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Errorf("%q: ParseHead error %v, Parse %v", doc, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			w, _ := Canonicalize(want, nil)
			g, _ := Canonicalize(got, nil)
			if !bytes.Equal(w, g) {
				t.Errorf("%q: ParseHead %s, Parse %s", doc, g, w)
			}
		}
	}
}
