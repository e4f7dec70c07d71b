package gostx509

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// maxChainLength bounds chain building: real ГОСТ hierarchies (Минцифры
// root, an accredited CA, perhaps one intermediate) are three or four long.
const maxChainLength = 8

// maxSignatureChecks bounds the signatures one Verify checks while building
// chains (crypto/x509 has the same guard): intermediates come from the
// container under verification, and certificates that share names and
// sign one another would otherwise make chain building exponential.
const maxSignatureChecks = 100

// oidAnyExtKeyUsage is anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
var oidAnyExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37, 0}

// Verifier verifies certificate chains to a fixed set of trusted roots,
// with the CRLs it was given. Its only mutable state is the optional
// signature cache (VerifierConfig.SignatureCacheSize), which cannot change
// an outcome; it is safe for concurrent use.
type Verifier struct {
	roots      []*x509.Certificate
	crls       []*x509.RevocationList
	requireCRL bool
	sigs       *sigCache // nil without VerifierConfig.SignatureCacheSize
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Roots are the trusted root certificates (trust anchors).
	Roots []*x509.Certificate
	// CRLs are the revocation lists at hand, of any of the CAs. Each is
	// used only once its signature is checked with its issuer's key.
	CRLs []*x509.RevocationList
	// RequireCRL makes a certificate whose issuer has no CRL here fail
	// with ErrNoCRL; otherwise such a certificate is not checked for
	// revocation. Either way, when the issuer's only CRLs here are
	// unusable (not current, badly signed, with a critical extension this
	// package does not process), verification fails with that reason: a
	// configured CRL nobody refreshes should be seen, not skipped.
	RequireCRL bool
	// SignatureCacheSize, when positive, makes the Verifier remember up to
	// that many (at least 2) (certificate, issuer) pairs whose signature verified, so
	// that the chain of a certificate seen before costs no signature
	// verification. Validity, constraints, key usage and revocation are
	// still checked every time; the outcome never differs from an uncached
	// Verifier's. About 100 bytes a pair.
	SignatureCacheSize int
}

// NewVerifier returns a Verifier of cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Roots) == 0 {
		return nil, fmt.Errorf("%w: no trusted roots", ErrMalformed)
	}
	for i, c := range cfg.Roots {
		if c == nil {
			return nil, fmt.Errorf("%w: root %d is nil", ErrMalformed, i)
		}
	}
	return &Verifier{
		roots:      append([]*x509.Certificate(nil), cfg.Roots...),
		crls:       append([]*x509.RevocationList(nil), cfg.CRLs...),
		requireCRL: cfg.RequireCRL,
		sigs:       newSigCache(cfg.SignatureCacheSize),
	}, nil
}

// LoadVerifier returns a Verifier with the roots of a PEM bundle file and
// the CRLs of the given files (each DER or PEM "X509 CRL").
func LoadVerifier(rootsFile string, crlFiles []string, requireCRL bool) (*Verifier, error) {
	data, err := os.ReadFile(rootsFile)
	if err != nil {
		return nil, fmt.Errorf("read trusted roots: %w", err)
	}
	roots, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("parse trusted roots %s: %w", rootsFile, err)
	}
	cfg := VerifierConfig{Roots: roots, RequireCRL: requireCRL}
	for _, f := range crlFiles {
		crl, err := LoadCRLFile(f)
		if err != nil {
			return nil, err
		}
		cfg.CRLs = append(cfg.CRLs, crl)
	}
	return NewVerifier(cfg)
}

// ParseCRL parses a DER or PEM ("X509 CRL") CRL. Its signature is not
// checked here: Verifier checks it against the issuer it finds.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: PEM block %q, want X509 CRL", ErrMalformed, block.Type)
		}
		data = block.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("%w: CRL: %v", ErrMalformed, err)
	}
	return crl, nil
}

// LoadCRLFile reads and parses a DER or PEM CRL file.
func LoadCRLFile(path string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CRL: %w", err)
	}
	crl, err := ParseCRL(data)
	if err != nil {
		return nil, fmt.Errorf("parse CRL %s: %w", path, err)
	}
	return crl, nil
}

// VerifyOptions says what a chain is verified for.
type VerifyOptions struct {
	// Intermediates are untrusted CA certificates that may complete the
	// chain (from a CMS container, a registry, a configuration).
	Intermediates []*x509.Certificate
	// At is the time the chain must be valid at (for a signature, its
	// signing time): certificates valid then, and not revoked at or before
	// it. Zero means now.
	At time.Time
	// Now is the time the CRLs must be current at (thisUpdate ≤ Now ≤
	// nextUpdate): a signature made last year is checked against today's
	// CRL, which lists what was revoked before it was made. Zero means the
	// clock's now.
	Now time.Time
	// KeyUsage, when not zero, lists key usages of which the end-entity
	// certificate must allow at least one (for a document signature:
	// x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment). A
	// certificate without the extension allows every usage.
	KeyUsage x509.KeyUsage
	// ExtKeyUsage lists purposes an end-entity certificate with an
	// extended key usage extension must each carry (or anyExtendedKeyUsage).
	ExtKeyUsage []asn1.ObjectIdentifier
}

// Verify builds a chain from leaf through opts.Intermediates to one of the
// trusted roots and checks every certificate in it at opts.At: signatures,
// validity, CA constraints and path length, critical extensions, key
// usage of the leaf, and revocation by CRL. It returns the chain, leaf
// first and root last, or a *CertError wrapping one of ErrUnknownIssuer,
// ErrBadSignature, ErrExpired, ErrNotYetValid, ErrNotCA, ErrPathLength,
// ErrUnhandledCriticalExtension, ErrKeyUsage, ErrRevoked, ErrNoCRL,
// ErrCRLNotCurrent, ErrAlgorithmMismatch or ErrUnsupportedAlgorithm.
// When several chains can be built, the first that passes is returned,
// else the failure of the first built.
func (v *Verifier) Verify(leaf *x509.Certificate, opts VerifyOptions) ([]*x509.Certificate, error) {
	if v == nil || leaf == nil {
		return nil, fmt.Errorf("%w: nil verifier or certificate", ErrMalformed)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	at := opts.At
	if at.IsZero() {
		at = now
	}
	budget := maxSignatureChecks
	chains, err := v.buildChains([]*x509.Certificate{leaf}, opts.Intermediates, &budget)
	if err != nil {
		return nil, err
	}
	var first error
	for _, chain := range chains {
		err := v.checkChain(chain, at, now, opts)
		if err == nil {
			return chain, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// isRoot says whether c is one of the trusted roots (byte for byte).
func (v *Verifier) isRoot(c *x509.Certificate) bool {
	for _, r := range v.roots {
		if bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// buildChains extends partial (leaf first) to every trusted root reachable
// through intermediates whose names and key identifiers match and whose
// signature over the child verifies.
// budget counts down the signature checks left.
func (v *Verifier) buildChains(partial, intermediates []*x509.Certificate, budget *int) ([][]*x509.Certificate, error) {
	cur := partial[len(partial)-1]
	if v.isRoot(cur) {
		return [][]*x509.Certificate{partial}, nil
	}
	depth := len(partial) - 1
	certErr := func(err error, detail string) error {
		return &CertError{Err: err, Depth: depth, Serial: cur.SerialNumber, Detail: detail}
	}
	if len(partial) >= maxChainLength {
		return nil, certErr(ErrUnknownIssuer, "chain too long")
	}
	var chains [][]*x509.Certificate
	var sigErr, deeper error
	candidates := append(append([]*x509.Certificate(nil), v.roots...), intermediates...)
	for _, parent := range candidates {
		if parent == nil || !bytes.Equal(parent.RawSubject, cur.RawIssuer) {
			continue
		}
		if len(cur.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0 && !bytes.Equal(cur.AuthorityKeyId, parent.SubjectKeyId) {
			continue
		}
		if inChain(partial, parent) {
			continue
		}
		if *budget <= 0 {
			return nil, certErr(ErrUnknownIssuer, "too many candidate issuers")
		}
		*budget--
		if err := v.checkCertificateSignature(cur, parent); err != nil {
			if sigErr == nil {
				sigErr = err
			}
			continue
		}
		next := append(append([]*x509.Certificate(nil), partial...), parent)
		found, err := v.buildChains(next, intermediates, budget)
		if err != nil && deeper == nil {
			deeper = err
		}
		chains = append(chains, found...)
	}
	switch {
	case len(chains) > 0:
		return chains, nil
	case deeper != nil:
		return nil, deeper
	case sigErr != nil:
		var sentinel error = ErrBadSignature
		for _, e := range []error{ErrAlgorithmMismatch, ErrUnsupportedAlgorithm, ErrMalformed} {
			if errors.Is(sigErr, e) {
				sentinel = e
			}
		}
		return nil, certErr(sentinel, "issuer's signature: "+sigErr.Error())
	}
	return nil, certErr(ErrUnknownIssuer, "")
}

func inChain(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// checkChain checks a built chain (leaf first, trusted root last) at at,
// with CRLs current at now.
func (v *Verifier) checkChain(chain []*x509.Certificate, at, now time.Time, opts VerifyOptions) error {
	for depth, c := range chain {
		certErr := func(err error, detail string) error {
			return &CertError{Err: err, Depth: depth, Serial: c.SerialNumber, Detail: detail}
		}
		if at.Before(c.NotBefore) {
			return certErr(ErrNotYetValid, "")
		}
		if at.After(c.NotAfter) {
			return certErr(ErrExpired, "")
		}
		if len(c.UnhandledCriticalExtensions) > 0 {
			return certErr(ErrUnhandledCriticalExtension, fmt.Sprint(c.UnhandledCriticalExtensions))
		}
		if depth > 0 {
			if !c.BasicConstraintsValid || !c.IsCA {
				return certErr(ErrNotCA, "no basicConstraints cA")
			}
			if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
				return certErr(ErrNotCA, "no keyCertSign in key usage")
			}
			// depth-1 CA certificates sit below c (the leaf is not one).
			if below := depth - 1; (c.MaxPathLen > 0 || c.MaxPathLenZero) && below > c.MaxPathLen {
				return certErr(ErrPathLength, fmt.Sprintf("%d CA certificates below, at most %d", below, c.MaxPathLen))
			}
		}
		if depth < len(chain)-1 {
			if err := v.checkRevocation(c, chain[depth+1], at, now); err != nil {
				return certErr(err, "")
			}
		}
	}
	return checkLeafUsage(chain[0], opts)
}

// checkLeafUsage checks the end-entity certificate's key usage and
// extended key usage against what opts asks.
func checkLeafUsage(leaf *x509.Certificate, opts VerifyOptions) error {
	certErr := func(detail string) error {
		return &CertError{Err: ErrKeyUsage, Depth: 0, Serial: leaf.SerialNumber, Detail: detail}
	}
	if opts.KeyUsage != 0 && leaf.KeyUsage != 0 && leaf.KeyUsage&opts.KeyUsage == 0 {
		return certErr(fmt.Sprintf("key usage %#x, want any of %#x", int(leaf.KeyUsage), int(opts.KeyUsage)))
	}
	if len(opts.ExtKeyUsage) == 0 {
		return nil
	}
	have, present, err := extKeyUsage(leaf)
	if err != nil {
		return &CertError{Err: ErrMalformed, Depth: 0, Serial: leaf.SerialNumber, Detail: err.Error()}
	}
	if !present {
		return nil
	}
	for _, oid := range have {
		if oid.Equal(oidAnyExtKeyUsage) {
			return nil
		}
	}
	for _, want := range opts.ExtKeyUsage {
		found := false
		for _, oid := range have {
			found = found || oid.Equal(want)
		}
		if !found {
			return certErr(fmt.Sprintf("extended key usage lacks %v", want))
		}
	}
	return nil
}

// extKeyUsage returns the OIDs of a certificate's extended key usage
// extension and whether it has one. crypto/x509 splits them into known
// constants and unknown OIDs; the raw extension keeps them as OIDs.
func extKeyUsage(c *x509.Certificate) ([]asn1.ObjectIdentifier, bool, error) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtExtKeyUsage) {
			var oids []asn1.ObjectIdentifier
			if err := unmarshalDER(e.Value, &oids, "extended key usage"); err != nil {
				return nil, true, err
			}
			return oids, true, nil
		}
	}
	return nil, false, nil
}

// checkRevocation looks c up in a CRL of issuer current at now, for a
// revocation at or before at. It returns an error wrapping a sentinel (the
// caller wraps it in a CertError) or nil.
func (v *Verifier) checkRevocation(c, issuer *x509.Certificate, at, now time.Time) error {
	var best *x509.RevocationList
	var crlErr error
	for _, crl := range v.crls {
		if crl == nil || !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
			continue
		}
		if len(crl.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId) {
			continue
		}
		if err := CheckCRLSignature(crl, issuer); err != nil {
			if crlErr == nil {
				crlErr = fmt.Errorf("%w: CRL of the issuer: %v", ErrBadSignature, err)
			}
			continue
		}
		if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
			if crlErr == nil {
				crlErr = fmt.Errorf("%w: issuer has no cRLSign in key usage", ErrNotCA)
			}
			continue
		}
		// RFC 5280 §5.2: a CRL with a critical extension the reader does
		// not process (a delta CRL, a partitioned one) must not be used.
		if ext := unhandledCRLExtension(crl); ext != nil {
			if crlErr == nil {
				crlErr = fmt.Errorf("%w: CRL extension %v", ErrUnhandledCriticalExtension, ext)
			}
			continue
		}
		if now.Before(crl.ThisUpdate) || (!crl.NextUpdate.IsZero() && now.After(crl.NextUpdate)) {
			if crlErr == nil {
				crlErr = fmt.Errorf("%w: %s to %s", ErrCRLNotCurrent,
					crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339))
			}
			continue
		}
		if best == nil || crl.ThisUpdate.After(best.ThisUpdate) {
			best = crl
		}
	}
	if best == nil {
		if crlErr != nil {
			return crlErr
		}
		if v.requireCRL {
			return ErrNoCRL
		}
		return nil
	}
	for _, e := range best.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(c.SerialNumber) == 0 && !e.RevocationTime.After(at) {
			return fmt.Errorf("%w at %s", ErrRevoked, e.RevocationTime.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// unhandledCRLExtension returns the OID of the first critical CRL
// extension other than those Verifier reads, or nil.
func unhandledCRLExtension(crl *x509.RevocationList) asn1.ObjectIdentifier {
	for _, e := range crl.Extensions {
		if e.Critical && !e.Id.Equal(oidExtAuthorityKeyID) && !e.Id.Equal(oidExtCRLNumber) {
			return e.Id
		}
	}
	return nil
}
