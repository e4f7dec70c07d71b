package xmldsig

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// Errors about IDs and references, shared by signing and verification.
var (
	// ErrIDNotFound: no element carries the referenced ID.
	ErrIDNotFound = errors.New("xmldsig: no element has the referenced ID")
	// ErrDuplicateID: more than one element carries the same ID.
	ErrDuplicateID = errors.New("xmldsig: ID carried by more than one element")
	// ErrUnsupportedAlgorithm: an algorithm URI or signer algorithm this
	// package does not implement, or no verifier for it.
	ErrUnsupportedAlgorithm = errors.New("xmldsig: unsupported algorithm")
	// ErrEnveloping: signing a reference would put the signature inside
	// the element it signs.
	ErrEnveloping = errors.New("xmldsig: the signature would lie inside a signed element")
)

// ReferenceError says which reference (by its ID) failed and why.
type ReferenceError struct {
	// ID is the referenced ID (the URI without '#').
	ID string
	// Err is the sentinel error saying why.
	Err error
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("reference #%s: %v", e.ID, e.Err)
}

// Unwrap returns the cause.
func (e *ReferenceError) Unwrap() error { return e.Err }

// IDIndex maps IDs to the elements carrying them.
type IDIndex struct {
	byID map[string]*Element
	dup  map[string]bool
}

// IndexIDs indexes the IDs under root held in any of the attributes named
// in idAttrs. An ID held by two elements is recorded as a duplicate and
// Lookup refuses it.
func IndexIDs(root *Element, idAttrs []Name) *IDIndex {
	ix := &IDIndex{byID: map[string]*Element{}, dup: map[string]bool{}}
	root.Walk(func(e *Element) bool {
		for _, a := range e.Attr {
			for _, n := range idAttrs {
				if a.Space == n.Space && a.Local == n.Local {
					if _, ok := ix.byID[a.Value]; ok {
						ix.dup[a.Value] = true
					}
					ix.byID[a.Value] = e
				}
			}
		}
		return true
	})
	return ix
}

// Lookup returns the one element that carries id.
func (ix *IDIndex) Lookup(id string) (*Element, error) {
	if ix.dup[id] {
		return nil, &ReferenceError{ID: id, Err: ErrDuplicateID}
	}
	e, ok := ix.byID[id]
	if !ok {
		return nil, &ReferenceError{ID: id, Err: ErrIDNotFound}
	}
	return e, nil
}

// Duplicates returns the IDs carried by more than one element.
func (ix *IDIndex) Duplicates() []string {
	var out []string
	for id := range ix.dup {
		out = append(out, id)
	}
	return out
}

// Reference names an element to sign by its ID, digested after exc-c14n
// with an optional InclusiveNamespaces PrefixList.
type Reference struct {
	ID                string
	InclusivePrefixes []string
}

// SignOptions shape the ds:Signature that Sign builds.
type SignOptions struct {
	// IDAttrs are the attributes whose values are IDs (for WS-Security
	// wsu:Id). Required.
	IDAttrs []Name
	// KeyInfo, when set, is placed as the content of ds:KeyInfo.
	KeyInfo []*Element
	// Prefix is the prefix bound to the XMLDSig namespace (default "ds").
	Prefix string
}

// Sign builds a ds:Signature over refs, appends it as the last child of
// parent (whose tree must already hold every referenced element), and
// signs its exc-c14n SignedInfo with s.
func Sign(ctx context.Context, s signer.Signer, parent *Element, refs []Reference, opts SignOptions) (*Element, error) {
	sigURI, digURI, ok := SigningURIs(s.Algorithm())
	if !ok {
		return nil, fmt.Errorf("sign: %v: %w", s.Algorithm(), ErrUnsupportedAlgorithm)
	}
	if len(refs) == 0 {
		return nil, errors.New("sign: no references")
	}
	if len(opts.IDAttrs) == 0 {
		return nil, errors.New("sign: no ID attributes named")
	}
	px := opts.Prefix
	if px == "" {
		px = "ds"
	}
	ds := func(local string) *Element { return NewElement(NamespaceDSig, px, local) }
	withAlg := func(local, uri string) *Element {
		e := ds(local)
		e.SetAttr("", "", "Algorithm", uri)
		return e
	}

	ix := IndexIDs(parent.Root(), opts.IDAttrs)
	newDigest := digestMethods[digURI]
	si := ds("SignedInfo")
	si.AppendChild(withAlg("CanonicalizationMethod", ExcC14N))
	si.AppendChild(withAlg("SignatureMethod", sigURI))
	for _, r := range refs {
		target, err := ix.Lookup(r.ID)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		for p := parent; p != nil; p = p.Parent {
			if p == target {
				return nil, fmt.Errorf("sign: %w", &ReferenceError{ID: r.ID, Err: ErrEnveloping})
			}
		}
		h := newDigest()
		if err := WriteCanonical(h, target, r.InclusivePrefixes, nil); err != nil {
			return nil, fmt.Errorf("sign: %w", &ReferenceError{ID: r.ID, Err: err})
		}
		ref := ds("Reference")
		ref.SetAttr("", "", "URI", "#"+r.ID)
		tr := ds("Transforms")
		t := withAlg("Transform", ExcC14N)
		if len(r.InclusivePrefixes) > 0 {
			in := NewElement(ExcC14N, "ec", "InclusiveNamespaces")
			in.DeclareNS("ec", ExcC14N)
			in.SetAttr("", "", "PrefixList", strings.Join(r.InclusivePrefixes, " "))
			t.AppendChild(in)
		}
		tr.AppendChild(t)
		ref.AppendChild(tr)
		ref.AppendChild(withAlg("DigestMethod", digURI))
		dv := ds("DigestValue")
		dv.SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
		ref.AppendChild(dv)
		si.AppendChild(ref)
	}
	sig := ds("Signature")
	sig.DeclareNS(px, NamespaceDSig)
	sig.AppendChild(si)
	sv := ds("SignatureValue")
	sig.AppendChild(sv)
	if len(opts.KeyInfo) > 0 {
		ki := ds("KeyInfo")
		for _, k := range opts.KeyInfo {
			ki.AppendChild(k)
		}
		sig.AppendChild(ki)
	}
	parent.AppendChild(sig)

	value, err := signSignedInfo(ctx, s, si)
	if err != nil {
		parent.Children = parent.Children[:len(parent.Children)-1]
		return nil, err
	}
	sv.SetText(base64.StdEncoding.EncodeToString(value))
	return sig, nil
}

func signSignedInfo(ctx context.Context, s signer.Signer, si *Element) ([]byte, error) {
	h := s.Algorithm().NewHash()
	if h == nil {
		return nil, fmt.Errorf("sign: %v: %w", s.Algorithm(), ErrUnsupportedAlgorithm)
	}
	if err := WriteCanonical(h, si, nil, nil); err != nil {
		return nil, fmt.Errorf("sign: SignedInfo: %w", err)
	}
	value, err := s.SignDigest(ctx, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: SignedInfo: %w", err)
	}
	return value, nil
}
