package cms

import (
	"errors"
	"fmt"
)

// maxBERDepth bounds the nesting berToDER follows; SignedData with
// certificates nests about a dozen deep.
const maxBERDepth = 40

var errBER = errors.New("bad BER")

// berToDER re-encodes BER with indefinite lengths, non-minimal lengths and
// constructed OCTET STRINGs (what streaming encoders such as BouncyCastle
// behind Java CAdES write) into DER that encoding/asn1 reads. Definite DER
// passes through unchanged. The signed attributes, being DER already (RFC
// 5652 §5.4 signs their DER), come out as they went in.
//
// Most containers are DER already (ours, CryptoPro's, openssl's without
// -stream): they are only walked, header to header, and returned as they
// are. Converting copies every level of nesting, which was 7% of the CPU
// normalize spent on a signed document.
func berToDER(in []byte) ([]byte, error) {
	if rest, err := derElement(in, 0); err == nil && len(rest) == 0 {
		return in, nil
	}
	return convertBER(in)
}

// convertBER is berToDER without the check for DER.
func convertBER(in []byte) ([]byte, error) {
	out, rest, err := berElement(in, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBER, len(rest))
	}
	return out, nil
}

// errNotDER: derElement found something berElement would change.
var errNotDER = errors.New("not DER")

// derElement walks the element at the start of in as berElement reads it,
// copying nothing, and returns what follows it. It fails (with errBER or
// errNotDER) where berElement would fail or would write other bytes: an
// indefinite length, a length not in its shortest form, a constructed
// OCTET STRING, anything of those nested inside.
func derElement(in []byte, depth int) (rest []byte, err error) {
	if depth > maxBERDepth {
		return nil, errBER
	}
	if len(in) < 2 {
		return nil, errBER
	}
	n := 1
	if in[0]&0x1f == 0x1f {
		for {
			if n >= len(in) || n > 5 {
				return nil, errBER
			}
			n++
			if in[n-1]&0x80 == 0 {
				break
			}
		}
	}
	if in[0] == 0x24 {
		return nil, errNotDER // a constructed OCTET STRING is flattened
	}
	if n >= len(in) {
		return nil, errBER
	}
	l := in[n]
	n++
	size := int(l)
	switch {
	case l == 0x80:
		return nil, errNotDER // indefinite
	case l > 0x80:
		k := int(l & 0x7f)
		if k > 4 || len(in)-n < k {
			return nil, errBER
		}
		if in[n] == 0 {
			return nil, errNotDER // a leading zero: not the shortest form
		}
		size = 0
		for _, b := range in[n : n+k] {
			size = size<<8 | int(b)
		}
		n += k
		if size < 0x80 {
			return nil, errNotDER // fits the short form
		}
	}
	if len(in)-n < size {
		return nil, errBER
	}
	content, rest := in[n:n+size], in[n+size:]
	if in[0]&0x20 != 0 {
		for len(content) > 0 {
			if content, err = derElement(content, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return rest, nil
}

// berElement converts the element at the start of in and returns it and
// what follows it.
func berElement(in []byte, depth int) (out, rest []byte, err error) {
	if depth > maxBERDepth {
		return nil, nil, fmt.Errorf("%w: nested deeper than %d", errBER, maxBERDepth)
	}
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated header", errBER)
	}
	// Identifier octets: one, or more for tag numbers ≥ 31.
	n := 1
	if in[0]&0x1f == 0x1f {
		for {
			if n >= len(in) || n > 5 {
				return nil, nil, fmt.Errorf("%w: bad tag", errBER)
			}
			n++
			if in[n-1]&0x80 == 0 {
				break
			}
		}
	}
	id := in[:n]
	constructed := in[0]&0x20 != 0
	if n >= len(in) {
		return nil, nil, fmt.Errorf("%w: truncated length", errBER)
	}
	l := in[n]
	n++
	var content []byte
	indefinite := false
	switch {
	case l == 0x80:
		if !constructed {
			return nil, nil, fmt.Errorf("%w: indefinite length on a primitive", errBER)
		}
		indefinite = true
		rest = in[n:]
	case l < 0x80:
		if len(in)-n < int(l) {
			return nil, nil, fmt.Errorf("%w: truncated content", errBER)
		}
		content, rest = in[n:n+int(l)], in[n+int(l):]
	default:
		k := int(l & 0x7f)
		if k > 4 || len(in)-n < k {
			return nil, nil, fmt.Errorf("%w: bad length", errBER)
		}
		size := 0
		for _, b := range in[n : n+k] {
			size = size<<8 | int(b)
		}
		n += k
		if size < 0 || len(in)-n < size {
			return nil, nil, fmt.Errorf("%w: truncated content", errBER)
		}
		content, rest = in[n:n+size], in[n+size:]
	}
	if !constructed {
		return appendElement(nil, id, content), rest, nil
	}
	// Constructed: convert the children, up to end-of-contents if indefinite.
	var children, pieces []byte
	src := content
	if indefinite {
		src = rest
	}
	octetString := in[0] == 0x24 // universal, constructed, OCTET STRING
	for {
		if indefinite {
			if len(src) < 2 {
				return nil, nil, fmt.Errorf("%w: no end-of-contents", errBER)
			}
			if src[0] == 0 && src[1] == 0 {
				src = src[2:]
				break
			}
		} else if len(src) == 0 {
			break
		}
		var child []byte
		child, src, err = berElement(src, depth+1)
		if err != nil {
			return nil, nil, err
		}
		if octetString {
			if child[0] != 0x04 {
				return nil, nil, fmt.Errorf("%w: constructed OCTET STRING holds tag %#x", errBER, child[0])
			}
			_, body, _ := splitDER(child)
			pieces = append(pieces, body...)
			continue
		}
		children = append(children, child...)
	}
	if indefinite {
		rest = src
	}
	if octetString {
		return appendElement(nil, []byte{0x04}, pieces), rest, nil
	}
	return appendElement(nil, id, children), rest, nil
}

// appendElement appends identifier, DER length and content.
func appendElement(dst, id, content []byte) []byte {
	dst = append(dst, id...)
	switch n := len(content); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	case n < 0x10000:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, content...)
}

// splitDER splits an element appendElement made (single-byte tag) into
// its header and content.
func splitDER(el []byte) (header, content []byte, ok bool) {
	if len(el) < 2 {
		return nil, nil, false
	}
	h := 2
	if el[1] >= 0x80 {
		h += int(el[1] & 0x7f)
	}
	if h > len(el) {
		return nil, nil, false
	}
	return el[:h], el[h:], true
}
