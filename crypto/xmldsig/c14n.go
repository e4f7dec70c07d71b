package xmldsig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ErrUndeclaredPrefix: an element or attribute built in code uses a prefix
// that no declaration in scope binds. Parse refuses such input earlier.
var ErrUndeclaredPrefix = errors.New("xml: undeclared namespace prefix")

// Canonicalize returns the exclusive canonical form (W3C exc-c14n, without
// comments) of the subtree rooted at e, in the context of e's ancestors.
// inclusivePrefixes is the InclusiveNamespaces PrefixList ("#default" names
// the default namespace).
func Canonicalize(e *Element, inclusivePrefixes []string) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteCanonical(&b, e, inclusivePrefixes, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteCanonical writes the exclusive canonical form of e's subtree to w,
// leaving out the subtree of exclude (the enveloped-signature transform)
// when it is not nil.
func WriteCanonical(w io.Writer, e *Element, inclusivePrefixes []string, exclude *Element) error {
	c := canonicalizer{exclude: exclude}
	for _, p := range inclusivePrefixes {
		if p == "#default" {
			p = ""
		}
		c.inclusive = append(c.inclusive, p)
	}
	var b bytes.Buffer
	c.out = &b
	if err := c.element(e, e.InScope(), map[string]string{}); err != nil {
		return fmt.Errorf("canonicalize <%s>: %w", e.Local, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

type canonicalizer struct {
	out       *bytes.Buffer
	inclusive []string
	exclude   *Element
}

// element writes e. scope holds the bindings in scope at e (default
// namespace under ""), rendered those the output ancestors rendered.
func (c *canonicalizer) element(e *Element, scope, rendered map[string]string) error {
	// a child sees its own declarations
	if len(e.NS) > 0 && e.Parent != nil && !sameDecls(e, scope) {
		scope = withDecls(scope, e.NS)
	}
	// the namespace prefixes this element visibly utilizes
	used := []string{e.Prefix}
	for _, a := range e.Attr {
		if a.Prefix != "" {
			used = append(used, a.Prefix)
		}
	}
	nUsed := len(used)
	used = append(used, c.inclusive...)
	var decls []NSDecl
	seen := map[string]bool{}
	for i, p := range used {
		if p == "xml" || seen[p] {
			continue
		}
		seen[p] = true
		inclusive := i >= nUsed // from the PrefixList
		uri, bound := scope[p]
		if p == "" {
			// xmlns="" only when an output ancestor rendered a non-empty default
			prev, was := rendered[""]
			if (bound && (!was || prev != uri)) || (!bound && was && prev != "") {
				decls = append(decls, NSDecl{Prefix: "", URI: uri})
			}
			continue
		}
		if !bound {
			if inclusive {
				continue
			}
			return fmt.Errorf("prefix %q: %w", p, ErrUndeclaredPrefix)
		}
		if prev, was := rendered[p]; !was || prev != uri {
			decls = append(decls, NSDecl{Prefix: p, URI: uri})
		}
	}
	sort.Slice(decls, func(i, j int) bool { return decls[i].Prefix < decls[j].Prefix })
	if len(decls) > 0 {
		r := make(map[string]string, len(rendered)+len(decls))
		for k, v := range rendered {
			r[k] = v
		}
		for _, d := range decls {
			r[d.Prefix] = d.URI
		}
		rendered = r
	}

	out := c.out
	out.WriteByte('<')
	writeQName(out, e.Prefix, e.Local)
	for _, d := range decls {
		if d.Prefix == "" {
			out.WriteString(` xmlns="`)
		} else {
			out.WriteString(` xmlns:`)
			out.WriteString(d.Prefix)
			out.WriteString(`="`)
		}
		escapeAttr(out, d.URI)
		out.WriteByte('"')
	}
	attrs := e.Attr
	if len(attrs) > 1 {
		attrs = append([]Attr(nil), attrs...)
		sort.Slice(attrs, func(i, j int) bool {
			if attrs[i].Space != attrs[j].Space {
				return attrs[i].Space < attrs[j].Space
			}
			return attrs[i].Local < attrs[j].Local
		})
	}
	for _, a := range attrs {
		out.WriteByte(' ')
		writeQName(out, a.Prefix, a.Local)
		out.WriteString(`="`)
		escapeAttr(out, a.Value)
		out.WriteByte('"')
	}
	out.WriteByte('>')
	for _, ch := range e.Children {
		switch n := ch.(type) {
		case *Element:
			if n == c.exclude {
				continue
			}
			if err := c.element(n, scope, rendered); err != nil {
				return err
			}
		case *Text:
			escapeText(out, n.Data)
		case *ProcInst:
			out.WriteString("<?")
			out.WriteString(n.Target)
			if n.Data != "" {
				out.WriteByte(' ')
				out.WriteString(n.Data)
			}
			out.WriteString("?>")
		}
	}
	out.WriteString("</")
	writeQName(out, e.Prefix, e.Local)
	out.WriteByte('>')
	return nil
}

// sameDecls reports whether every declaration of e is already in scope with
// the same value: the apex's scope already includes them.
func sameDecls(e *Element, scope map[string]string) bool {
	for _, d := range e.NS {
		v, ok := scope[d.Prefix]
		if d.URI == "" {
			if ok {
				return false
			}
			continue
		}
		if !ok || v != d.URI {
			return false
		}
	}
	return true
}

func withDecls(scope map[string]string, decls []NSDecl) map[string]string {
	s := make(map[string]string, len(scope)+len(decls))
	for k, v := range scope {
		s[k] = v
	}
	for _, d := range decls {
		if d.URI == "" {
			delete(s, d.Prefix)
		} else {
			s[d.Prefix] = d.URI
		}
	}
	return s
}

func writeQName(out *bytes.Buffer, prefix, local string) {
	if prefix != "" {
		out.WriteString(prefix)
		out.WriteByte(':')
	}
	out.WriteString(local)
}

// escapeText escapes character data as C14N 1.0 §2.3 requires.
func escapeText(out *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		out.WriteString(s[last:i])
		out.WriteString(rep)
		last = i + 1
	}
	out.WriteString(s[last:])
}

// escapeAttr escapes an attribute value as C14N 1.0 §2.3 requires.
func escapeAttr(out *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '"':
			rep = "&quot;"
		case '\t':
			rep = "&#x9;"
		case '\n':
			rep = "&#xA;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		out.WriteString(s[last:i])
		out.WriteString(rep)
		last = i + 1
	}
	out.WriteString(s[last:])
}

// Serialize writes the document rooted at root as XML: an XML declaration,
// then every element with the declarations, prefixes and attributes it has
// in the tree. Parsing the output gives back the same tree, so digests made
// over the tree hold for the bytes.
func Serialize(root *Element) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	serialize(&b, root)
	return b.Bytes()
}

func serialize(out *bytes.Buffer, e *Element) {
	out.WriteByte('<')
	writeQName(out, e.Prefix, e.Local)
	for _, d := range e.NS {
		if d.Prefix == "" {
			out.WriteString(` xmlns="`)
		} else {
			out.WriteString(` xmlns:` + d.Prefix + `="`)
		}
		escapeAttr(out, d.URI)
		out.WriteByte('"')
	}
	for _, a := range e.Attr {
		out.WriteByte(' ')
		writeQName(out, a.Prefix, a.Local)
		out.WriteString(`="`)
		escapeAttr(out, a.Value)
		out.WriteByte('"')
	}
	if len(e.Children) == 0 {
		out.WriteString("/>")
		return
	}
	out.WriteByte('>')
	for _, ch := range e.Children {
		switch n := ch.(type) {
		case *Element:
			serialize(out, n)
		case *Text:
			escapeText(out, n.Data)
		case *ProcInst:
			out.WriteString("<?" + n.Target)
			if n.Data != "" {
				out.WriteString(" " + strings.TrimLeft(n.Data, " \t\r\n"))
			}
			out.WriteString("?>")
		}
	}
	out.WriteString("</")
	writeQName(out, e.Prefix, e.Local)
	out.WriteByte('>')
}
