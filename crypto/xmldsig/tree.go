// Package xmldsig holds what XML signatures need and nothing else: a safe
// parser into a small tree that keeps every namespace declaration and prefix
// as written, exclusive XML canonicalization (exc-c14n, without comments,
// with InclusiveNamespaces PrefixList) of an element subtree, and signing and
// verifying a ds:Signature whose references point at elements by ID.
//
// The tree is written on encoding/xml's raw tokens rather than taken from a
// general DOM library because canonicalization needs exactly what such
// libraries tend to normalize away or get wrong: the prefix each name was
// written with, the declarations made on each element, attribute values after
// XML attribute-value normalization, and a parser that refuses DTDs instead
// of fetching or expanding them.
package xmldsig

import (
	"strings"
)

// XMLNamespace is the namespace bound to the reserved prefix "xml".
const XMLNamespace = "http://www.w3.org/XML/1998/namespace"

// Node is a child of an Element: *Element, *Text or *ProcInst. Comments are
// not kept: exc-c14n without comments never outputs them, and a same-document
// reference removes them even under the WithComments variant.
type Node interface {
	isNode()
}

// Name is a namespace-qualified name: Space is the namespace URI (empty for
// no namespace), Local the local part.
type Name struct {
	Space, Local string
}

// NSDecl is a namespace declaration made on an element: xmlns:Prefix="URI",
// or xmlns="URI" when Prefix is empty.
type NSDecl struct {
	Prefix, URI string
}

// Attr is an attribute that is not a namespace declaration. Value is the
// normalized attribute value (XML 1.0 §3.3.3: literal whitespace characters
// became spaces, references were expanded).
type Attr struct {
	Space, Prefix, Local, Value string
}

// Element is an element with its namespace declarations, attributes and
// children as they appear in the document.
type Element struct {
	// Space is the element's resolved namespace URI, Prefix the prefix it
	// was written with (empty for the default namespace), Local its local
	// name.
	Space, Prefix, Local string
	// NS are the namespace declarations written on this element, in order.
	NS []NSDecl
	// Attr are the element's other attributes in document order.
	Attr []Attr
	// Children are the element's content in document order.
	Children []Node
	// Parent is the enclosing element, nil for the document element.
	Parent *Element
}

// Text is character data (CDATA sections become text too).
type Text struct {
	Data string
}

// ProcInst is a processing instruction inside the document element.
type ProcInst struct {
	Target, Data string
}

func (*Element) isNode()  {}
func (*Text) isNode()     {}
func (*ProcInst) isNode() {}

// Is reports whether the element has the given namespace and local name.
func (e *Element) Is(space, local string) bool {
	return e != nil && e.Space == space && e.Local == local
}

// Name returns the element's qualified name.
func (e *Element) Name() Name { return Name{Space: e.Space, Local: e.Local} }

// AttrValue returns the value of the attribute with the given namespace and
// local name.
func (e *Element) AttrValue(space, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Space == space && a.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// SetAttr sets an attribute, replacing one of the same name. The prefix
// must be bound where the element is placed (see DeclareNS).
func (e *Element) SetAttr(space, prefix, local, value string) {
	for i, a := range e.Attr {
		if a.Space == space && a.Local == local {
			e.Attr[i] = Attr{Space: space, Prefix: prefix, Local: local, Value: value}
			return
		}
	}
	e.Attr = append(e.Attr, Attr{Space: space, Prefix: prefix, Local: local, Value: value})
}

// DeclareNS adds a namespace declaration to the element unless the same
// prefix is already declared on it.
func (e *Element) DeclareNS(prefix, uri string) {
	for _, d := range e.NS {
		if d.Prefix == prefix {
			return
		}
	}
	e.NS = append(e.NS, NSDecl{Prefix: prefix, URI: uri})
}

// Elements returns the element's child elements in document order.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, c := range e.Children {
		if ce, ok := c.(*Element); ok {
			out = append(out, ce)
		}
	}
	return out
}

// ChildrenNamed returns the child elements with the given name.
func (e *Element) ChildrenNamed(space, local string) []*Element {
	var out []*Element
	for _, c := range e.Children {
		if ce, ok := c.(*Element); ok && ce.Is(space, local) {
			out = append(out, ce)
		}
	}
	return out
}

// Text returns the concatenated character data directly inside the element
// (not of its descendants).
func (e *Element) Text() string {
	var b strings.Builder
	for _, c := range e.Children {
		if t, ok := c.(*Text); ok {
			b.WriteString(t.Data)
		}
	}
	return b.String()
}

// SetText replaces the element's children with one text node.
func (e *Element) SetText(s string) {
	e.Children = []Node{&Text{Data: s}}
}

// AppendChild adds n as the element's last child and sets its parent.
func (e *Element) AppendChild(n Node) {
	if ce, ok := n.(*Element); ok {
		ce.Parent = e
	}
	e.Children = append(e.Children, n)
}

// NewElement returns an element named prefix:local in namespace space. It
// declares nothing: call DeclareNS where the prefix is not already bound.
func NewElement(space, prefix, local string) *Element {
	return &Element{Space: space, Prefix: prefix, Local: local}
}

// InScope returns the namespace bindings in scope at the element, the
// default namespace under the empty prefix (absent when none is declared or
// it was undeclared with xmlns="").
func (e *Element) InScope() map[string]string {
	var chain []*Element
	for p := e; p != nil; p = p.Parent {
		chain = append(chain, p)
	}
	scope := make(map[string]string)
	for i := len(chain) - 1; i >= 0; i-- {
		for _, d := range chain[i].NS {
			if d.URI == "" {
				delete(scope, d.Prefix)
				continue
			}
			scope[d.Prefix] = d.URI
		}
	}
	return scope
}

// Root returns the document element the element belongs to.
func (e *Element) Root() *Element {
	for e.Parent != nil {
		e = e.Parent
	}
	return e
}

// Walk calls fn for the element and every descendant element in document
// order, stopping early when fn returns false.
func (e *Element) Walk(fn func(*Element) bool) bool {
	if !fn(e) {
		return false
	}
	for _, c := range e.Children {
		if ce, ok := c.(*Element); ok {
			if !ce.Walk(fn) {
				return false
			}
		}
	}
	return true
}
