// Package docevent builds a document event (topics.DocumentEvent) from
// what a MIS has after signing a СЭМД: the CDA XML file, one detached CMS
// signature per signer, and the metadata it declares. It is the
// publisher's side of the contract: it refuses what the gateway would
// refuse for the file and the signatures themselves (not XML, a DTD, a
// signature over another file, a file above the inline limit without a
// reference), so a publisher learns it before publishing. The checks of
// the metadata against the CDA and of the certificates against the trusted
// roots and ФРМР stay the gateway's.
package docevent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ErrBadInput is wrapped by every error about what Attach is given. The
// texts name the role, the size or the rule, never document contents.
var ErrBadInput = errors.New("document event")

// MediaType is the media type of a CDA file.
const MediaType = "text/xml"

// Signature is one signer's detached CMS SignedData (DER) over the file.
type Signature struct {
	Role string // doctor, head or organization
	DER  []byte
}

// Options say how the file travels.
type Options struct {
	// Ref is the MIS's https URL of the file; empty carries it inline.
	Ref string
	// InlineLimit is the largest file carried inline; zero is the catalog's
	// topics.DocumentInlineBytes.
	InlineLimit int
}

// roles are the signer roles the contract knows.
var roles = map[string]bool{"doctor": true, "head": true, "organization": true}

// Attach sets ev's file and its signers' signatures. Each signature must
// parse and verify over file; its signer's entry in ev.Signers gets it (a
// signer of a role the metadata does not list is added), with signed_at
// from the signature's signingTime and, where the metadata declares a
// certificate, that block from the certificate inside the signature.
// Every signer the metadata lists must have a signature.
func Attach(ev *topics.DocumentEvent, file []byte, sigs []Signature, opt Options) error {
	if err := checkXML(file); err != nil {
		return err
	}
	limit := opt.InlineLimit
	if limit <= 0 {
		limit = topics.DocumentInlineBytes
	}
	sum := sha256.Sum256(file)
	ev.File = topics.Attachment{MediaType: MediaType, Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:])}
	switch {
	case opt.Ref != "":
		u, err := url.Parse(opt.Ref)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("%w: the reference must be an https URL", ErrBadInput)
		}
		ev.File.Ref = opt.Ref
	case len(file) > limit:
		return fmt.Errorf("%w: the file is %d bytes, above the inline limit of %d: publish it at an https URL and give that reference", ErrBadInput, len(file), limit)
	default:
		ev.File.Data = file
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no signature: at least the author's (role doctor) is required", ErrBadInput)
	}
	seen := map[string]bool{}
	for _, s := range sigs {
		if !roles[s.Role] {
			return fmt.Errorf("%w: unknown signer role %q (doctor, head, organization)", ErrBadInput, s.Role)
		}
		if seen[s.Role] {
			return fmt.Errorf("%w: two signatures of role %s", ErrBadInput, s.Role)
		}
		seen[s.Role] = true
		sd, err := cms.Parse(s.DER)
		if err != nil {
			return fmt.Errorf("%w: the %s signature is not a detached CMS SignedData with one signer: %w", ErrBadInput, s.Role, err)
		}
		if err := sd.Verify(bytes.NewReader(file)); err != nil {
			return fmt.Errorf("%w: the %s signature does not verify over this file: %w", ErrBadInput, s.Role, err)
		}
		i := signerIndex(ev.Signers, s.Role)
		if i < 0 {
			ev.Signers = append(ev.Signers, topics.Signer{Role: s.Role})
			i = len(ev.Signers) - 1
		}
		// What the signature determines is taken from it, not from the
		// metadata: the gateway would refuse a signed_at or a declared
		// certificate that disagree with it.
		ev.Signers[i].Signature = s.DER
		if !sd.SigningTime.IsZero() {
			ev.Signers[i].SignedAt = moscowTime(sd.SigningTime)
		}
		if ev.Signers[i].Certificate != nil {
			c := sd.Signer
			ev.Signers[i].Certificate = &topics.Certificate{Serial: fmt.Sprintf("%032x", c.SerialNumber), Issuer: c.Issuer.CommonName,
				NotBefore: moscowTime(c.NotBefore), NotAfter: moscowTime(c.NotAfter)}
		}
	}
	for _, sg := range ev.Signers {
		if !seen[sg.Role] {
			return fmt.Errorf("%w: the metadata lists a %s signer without a signature", ErrBadInput, sg.Role)
		}
	}
	return nil
}

func moscowTime(t time.Time) topics.DateTime {
	return topics.DateTime(t.In(datetime.Moscow).Format(time.RFC3339))
}

func signerIndex(signers []topics.Signer, role string) int {
	for i, s := range signers {
		if s.Role == role {
			return i
		}
	}
	return -1
}

// checkXML refuses what is not one well-formed XML document, and a
// document type declaration (the gateway never expands or fetches
// entities, and refuses them: DOCUMENT_DTD_FORBIDDEN).
func checkXML(file []byte) error {
	if len(file) == 0 {
		return fmt.Errorf("%w: the file is empty", ErrBadInput)
	}
	d := xml.NewDecoder(bytes.NewReader(file))
	roots := 0
	depth := 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: the file is not well-formed XML: %v", ErrBadInput, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return fmt.Errorf("%w: the file has a document type declaration (DTD), which the gateway refuses", ErrBadInput)
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("%w: the file has text outside its root element", ErrBadInput)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("%w: the file is not well-formed XML: it ends inside an element", ErrBadInput)
	}
	if roots != 1 {
		return fmt.Errorf("%w: the file is not one XML document (%d root elements)", ErrBadInput, roots)
	}
	return nil
}
