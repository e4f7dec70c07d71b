package xmldsig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors of Parse. Each is wrapped with where it happened.
var (
	// ErrTooLarge: the input is longer than Limits.MaxBytes.
	ErrTooLarge = errors.New("xml: document too large")
	// ErrTooDeep: elements nest deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("xml: elements nested too deep")
	// ErrTooManyNodes: more elements, attributes and texts than Limits.MaxNodes.
	ErrTooManyNodes = errors.New("xml: too many nodes")
	// ErrDTD: the document has a DOCTYPE or another markup declaration.
	// DTDs are refused outright: nothing is fetched and no entity is
	// expanded beyond the five predefined ones and character references.
	ErrDTD = errors.New("xml: DTDs and entity declarations are not allowed")
	// ErrMalformed: the input is not well-formed namespace-aware XML.
	ErrMalformed = errors.New("xml: malformed document")
)

// Limits bound what Parse accepts. A zero field takes its default.
type Limits struct {
	// MaxBytes is the longest input accepted (default 16 MiB).
	MaxBytes int
	// MaxDepth is the deepest element nesting accepted (default 128).
	MaxDepth int
	// MaxNodes bounds elements, attributes and text nodes together
	// (default 1,000,000).
	MaxNodes int
}

const (
	defaultMaxBytes = 16 << 20
	defaultMaxDepth = 128
	defaultMaxNodes = 1_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = defaultMaxNodes
	}
	return l
}

// Parse parses a whole document (UTF-8 only) and returns its document
// element. It refuses DTDs, undeclared prefixes, duplicate attributes and
// anything beyond lim; it never reads anything but data.
func Parse(data []byte, lim Limits) (*Element, error) {
	return parse(data, lim, nil)
}

func parse(data []byte, lim Limits, stop func(*Element) bool) (*Element, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("parse: %d bytes, limit %d: %w", len(data), lim.MaxBytes, ErrTooLarge)
	}
	// A UTF-8 byte order mark, as .NET writes one, is not content.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("parse: not UTF-8: %w", ErrMalformed)
	}
	p := parser{data: data, lim: lim, d: xml.NewDecoder(bytes.NewReader(data)), stop: stop}
	p.d.Strict = true
	// No CharsetReader: a declared encoding other than UTF-8 is an error.
	root, err := p.run()
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return root, nil
}

// ParseHead parses data as Parse does up to the start tag of the first
// child of the document element that stop picks, and returns the document
// element with the children before that one (stop's own element is left
// out). What follows that start tag is not read: neither built nor checked
// for well-formedness, so a reader that needs only a document's head (a
// CDA's header, before its body) does not pay for the rest. The whole
// input is still held to Limits.MaxBytes and must be UTF-8, and a DTD,
// which can only come before the document element, is refused as by Parse.
// When stop picks no child, ParseHead is Parse.
func ParseHead(data []byte, lim Limits, stop func(*Element) bool) (*Element, error) {
	return parse(data, lim, stop)
}

type parser struct {
	data  []byte
	lim   Limits
	d     *xml.Decoder
	nodes int
	stop  func(*Element) bool // ParseHead's; nil for Parse
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

func (p *parser) count(n int) error {
	p.nodes += n
	if p.nodes > p.lim.MaxNodes {
		return fmt.Errorf("over %d nodes: %w", p.lim.MaxNodes, ErrTooManyNodes)
	}
	return nil
}

func (p *parser) run() (*Element, error) {
	var (
		root  *Element
		cur   *Element
		depth int
		// raw qualified names of open elements, to match end tags
		open   []string
		scopes []map[string]string
	)
	scope := map[string]string{"xml": XMLNamespace}
	for {
		start := p.d.InputOffset()
		tok, err := p.d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, malformed("line %d: %s", se.Line, se.Msg)
			}
			return nil, malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if cur == nil && root != nil {
				return nil, malformed("content after the document element")
			}
			depth++
			if depth > p.lim.MaxDepth {
				return nil, fmt.Errorf("depth over %d: %w", p.lim.MaxDepth, ErrTooDeep)
			}
			if err := p.count(1 + len(t.Attr)); err != nil {
				return nil, err
			}
			raw := p.data[start:p.d.InputOffset()]
			e, newScope, err := p.element(t, raw, scope)
			if err != nil {
				return nil, err
			}
			if depth == 2 && p.stop != nil && p.stop(e) {
				return root, nil // the head ends here (ParseHead)
			}
			if cur == nil {
				root = e
			} else {
				cur.AppendChild(e)
			}
			scopes = append(scopes, scope)
			scope = newScope
			open = append(open, qname(t.Name))
			cur = e
			// A self-closing tag is returned by RawToken as a start and an
			// end element, so nothing special is needed here.
		case xml.EndElement:
			if cur == nil || len(open) == 0 || open[len(open)-1] != qname(t.Name) {
				return nil, malformed("end tag </%s> does not match", qname(t.Name))
			}
			open = open[:len(open)-1]
			scope = scopes[len(scopes)-1]
			scopes = scopes[:len(scopes)-1]
			cur = cur.Parent
			depth--
		case xml.CharData:
			if cur == nil {
				if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return nil, malformed("text outside the document element")
				}
				continue
			}
			if err := p.count(1); err != nil {
				return nil, err
			}
			if n := len(cur.Children); n > 0 {
				if prev, ok := cur.Children[n-1].(*Text); ok {
					prev.Data += string(t)
					continue
				}
			}
			cur.Children = append(cur.Children, &Text{Data: string(t)})
		case xml.ProcInst:
			if strings.EqualFold(t.Target, "xml") {
				if start != 0 || root != nil {
					return nil, malformed("XML declaration not at the start")
				}
				continue
			}
			if cur != nil {
				if err := p.count(1); err != nil {
					return nil, err
				}
				cur.Children = append(cur.Children, &ProcInst{Target: t.Target, Data: string(t.Inst)})
			}
		case xml.Comment:
			// dropped: see Node
		case xml.Directive:
			return nil, ErrDTD
		}
	}
	if root == nil {
		return nil, malformed("no document element")
	}
	if cur != nil {
		return nil, malformed("unclosed element <%s>", open[len(open)-1])
	}
	return root, nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// element builds an element from a raw start tag, resolving its prefixes in
// the scope its own declarations make.
func (p *parser) element(t xml.StartElement, raw []byte, outer map[string]string) (*Element, map[string]string, error) {
	values, err := rawAttrValues(raw, len(t.Attr))
	if err != nil {
		return nil, nil, err
	}
	e := &Element{Prefix: t.Name.Space, Local: t.Name.Local}
	if e.Prefix == "xmlns" || !validNCName(e.Local) || (e.Prefix != "" && !validNCName(e.Prefix)) {
		return nil, nil, malformed("bad element name %q", qname(t.Name))
	}
	scope := outer
	// copy on write, so that the parent's scope stays intact
	declare := func(prefix, uri string) {
		ns := make(map[string]string, len(scope)+1)
		for k, v := range scope {
			ns[k] = v
		}
		if uri == "" {
			delete(ns, prefix)
		} else {
			ns[prefix] = uri
		}
		scope = ns
	}
	for i, a := range t.Attr {
		v := values[i]
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			for _, d := range e.NS {
				if d.Prefix == "" {
					return nil, nil, malformed("default namespace declared twice")
				}
			}
			if v == XMLNamespace || v == "http://www.w3.org/2000/xmlns/" {
				return nil, nil, malformed("reserved namespace as default")
			}
			e.NS = append(e.NS, NSDecl{URI: v})
			declare("", v)
		case a.Name.Space == "xmlns":
			prefix := a.Name.Local
			for _, d := range e.NS {
				if d.Prefix == prefix {
					return nil, nil, malformed("prefix %q declared twice", prefix)
				}
			}
			switch {
			case !validNCName(prefix) || prefix == "xmlns":
				return nil, nil, malformed("bad namespace prefix %q", prefix)
			case v == "":
				return nil, nil, malformed("prefix %q undeclared (not allowed in XML 1.0)", prefix)
			case prefix == "xml" && v != XMLNamespace, prefix != "xml" && v == XMLNamespace:
				return nil, nil, malformed("prefix xml rebound")
			}
			if prefix == "xml" {
				continue // redundant but allowed; never output
			}
			e.NS = append(e.NS, NSDecl{Prefix: prefix, URI: v})
			declare(prefix, v)
		default:
			// Our reading of the raw tag must agree with encoding/xml's
			// but for whitespace normalization; if not, refuse rather
			// than canonicalize a value that was misread.
			if wsToSpace(v) != wsToSpace(a.Value) {
				return nil, nil, malformed("attribute %q: value misread", a.Name.Local)
			}
			e.Attr = append(e.Attr, Attr{Prefix: a.Name.Space, Local: a.Name.Local, Value: v})
		}
	}
	if e.Prefix == "" {
		e.Space = scope[""]
	} else {
		uri, ok := scope[e.Prefix]
		if !ok {
			return nil, nil, malformed("undeclared prefix %q", e.Prefix)
		}
		e.Space = uri
	}
	for i := range e.Attr {
		a := &e.Attr[i]
		if !validNCName(a.Local) || (a.Prefix != "" && !validNCName(a.Prefix)) {
			return nil, nil, malformed("bad attribute name")
		}
		if a.Prefix != "" {
			uri, ok := scope[a.Prefix]
			if !ok {
				return nil, nil, malformed("undeclared prefix %q", a.Prefix)
			}
			a.Space = uri
		}
		for _, b := range e.Attr[:i] {
			if b.Space == a.Space && b.Local == a.Local {
				return nil, nil, malformed("duplicate attribute %q", a.Local)
			}
		}
	}
	return e, scope, nil
}

func validNCName(s string) bool {
	if s == "" || strings.ContainsRune(s, ':') {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r > 0x7f:
		case i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// rawAttrValues reads the attribute values of a raw start tag (already
// checked by encoding/xml) and applies XML 1.0 §3.3.3 attribute-value
// normalization, which encoding/xml does not: a literal tab, newline or
// carriage return (a CR LF pair counting once) becomes a space, while the
// same character written as a character reference stays itself.
func rawAttrValues(raw []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	i := bytes.IndexByte(raw, '<')
	if i < 0 {
		return nil, malformed("start tag not found")
	}
	i++
	// skip the element name
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '>' && raw[i] != '/' {
		i++
	}
	for len(out) < n {
		for i < len(raw) && raw[i] != '=' {
			i++
		}
		i++ // '='
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || (raw[i] != '"' && raw[i] != '\'') {
			return nil, malformed("attribute value not quoted")
		}
		q := raw[i]
		i++
		j := bytes.IndexByte(raw[i:], q)
		if j < 0 {
			return nil, malformed("attribute value not closed")
		}
		v, err := normalizeAttr(raw[i : i+j])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		i += j + 1
	}
	return out, nil
}

func wsToSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func normalizeAttr(v []byte) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\r':
			if i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
			b.WriteByte(' ')
		case '\n', '\t':
			b.WriteByte(' ')
		case '&':
			j := bytes.IndexByte(v[i:], ';')
			if j < 0 {
				return "", malformed("unterminated reference in attribute")
			}
			ref := string(v[i+1 : i+j])
			i += j
			switch ref {
			case "lt":
				b.WriteByte('<')
			case "gt":
				b.WriteByte('>')
			case "amp":
				b.WriteByte('&')
			case "apos":
				b.WriteByte('\'')
			case "quot":
				b.WriteByte('"')
			default:
				var (
					r   uint64
					err error
				)
				switch {
				case strings.HasPrefix(ref, "#x"):
					r, err = strconv.ParseUint(ref[2:], 16, 32)
				case strings.HasPrefix(ref, "#"):
					r, err = strconv.ParseUint(ref[1:], 10, 32)
				default:
					return "", malformed("unknown entity in attribute")
				}
				if err != nil || !isXMLChar(rune(r)) {
					return "", malformed("bad character reference in attribute")
				}
				b.WriteRune(rune(r))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
