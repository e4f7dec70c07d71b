package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/internal/testpki"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// signing makes the generator's signed СЭМД: a CDA built from the event by
// adapters/cda (semdtest.File) and detached CMS signatures of the doctor
// (a personal certificate with the doctor's СНИЛС and name) and of the
// organization (its certificate with an ОГРН), under the committed test CA
// (internal/testpki), which `dev` and the stack trust. Each doctor and
// organization has one certificate, issued on first use and kept, as a
// real one is used for months; a doctor whose document must fail for an
// expired certificate has a second one that ended a month ago. Keys and
// signature nonces come from a stream seeded by the generator's seed, so
// the same seed gives the same documents and signatures.
type signing struct {
	pki     *testpki.PKI
	err     error // loading the test PKI failed: documents go unsigned
	rand    *rand.ChaCha8
	now     time.Time
	doctors map[string]signer.Signer // by certificate serial; expired ones by serial + "/expired"
	orgs    map[string]signer.Signer // by MO OID
	serial  int64                    // the organizations' serials
}

// certValidity is how long the generated certificates are valid around
// the generator's clock.
const certValidity = 365 * 24 * time.Hour

func newSigning(seed uint64, now time.Time) *signing {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	key[8] = 's' // another stream than the generator's own choices
	pki, err := testpki.Load()
	return &signing{pki: pki, err: err, rand: rand.NewChaCha8(key), now: now.Truncate(time.Second), // certificates hold whole seconds
		doctors: map[string]signer.Signer{}, orgs: map[string]signer.Signer{}, serial: 0x0e000000}
}

// doctorValidity is the validity of a doctor's current certificate, which
// the ФРМР records list.
func (s *signing) doctorValidity() (time.Time, time.Time) {
	return s.now.Add(-certValidity), s.now.Add(certValidity)
}

// doctor returns the signer of doctor d (its certificate serial d.cert),
// or of its expired certificate.
func (s *signing) doctor(ctx context.Context, d doctor, expired bool) (signer.Signer, error) {
	key := d.cert
	from, to := s.doctorValidity()
	if expired {
		key += "/expired"
		from, to = s.now.Add(-2*certValidity), s.now.Add(-30*24*time.Hour)
	}
	if sg, ok := s.doctors[key]; ok {
		return sg, nil
	}
	subject, err := semdtest.PersonSubject(d.person2(""))
	if err != nil {
		return nil, err
	}
	subject.Title = "врач-терапевт"
	sg, err := s.issue(ctx, subject, d.cert, from, to)
	if err != nil {
		return nil, err
	}
	s.doctors[key] = sg
	return sg, nil
}

// organization returns the signer of the organization moOID (ЭП МО).
func (s *signing) organization(ctx context.Context, moOID string) (signer.Signer, error) {
	if sg, ok := s.orgs[moOID]; ok {
		return sg, nil
	}
	s.serial++
	from, to := s.doctorValidity()
	sg, err := s.issue(ctx, semdtest.OrganizationSubject(moOID), fmt.Sprintf("%x", s.serial), from, to)
	if err != nil {
		return nil, err
	}
	s.orgs[moOID] = sg
	return sg, nil
}

func (s *signing) issue(ctx context.Context, subject gostx509.Subject, serialHex string, from, to time.Time) (signer.Signer, error) {
	if s.err != nil {
		return nil, s.err
	}
	serial, ok := new(big.Int).SetString(serialHex, 16)
	if !ok {
		return nil, fmt.Errorf("certificate serial is not hex")
	}
	tmpl := gostx509.SigningTemplate(subject, from, to)
	tmpl.SerialNumber = serial
	return s.pki.Issue(ctx, tmpl, s.rand)
}

// listed is the certificate block ФРМР lists for doctor d: its current
// certificate, without issuing it.
func (s *signing) listed(d doctor) topics.Certificate {
	from, to := s.doctorValidity()
	issuer := ""
	if s.pki != nil {
		issuer = s.pki.CA.Subject.CommonName
	}
	return topics.Certificate{Serial: d.cert, Issuer: issuer,
		NotBefore: topics.DateTime(from.In(datetime.Moscow).Format(time.RFC3339)),
		NotAfter:  topics.DateTime(to.In(datetime.Moscow).Format(time.RFC3339))}
}

// declared is the certificate block of a signer as a MIS declares it.
func declared(sg signer.Signer) *topics.Certificate {
	c := sg.Certificate()
	return &topics.Certificate{Serial: fmt.Sprintf("%032x", c.SerialNumber), Issuer: c.Issuer.CommonName,
		NotBefore: topics.DateTime(c.NotBefore.In(datetime.Moscow).Format(time.RFC3339)),
		NotAfter:  topics.DateTime(c.NotAfter.In(datetime.Moscow).Format(time.RFC3339))}
}

// sign fills ev's signers' certificates and signatures and its file: the
// CDA of ev padded to about size bytes, signed by the doctor (with the
// expired certificate when expired) and by the organization, each at its
// signed_at.
func (s *signing) sign(ctx context.Context, ev *topics.DocumentEvent, d doctor, expired bool, size int) error {
	signers := make([]signer.Signer, len(ev.Signers))
	for i, sr := range ev.Signers {
		var err error
		if sr.Role == "organization" {
			signers[i], err = s.organization(ctx, ev.MOOID)
		} else {
			signers[i], err = s.doctor(ctx, d, expired)
		}
		if err != nil {
			return fmt.Errorf("signer %s: %w", sr.Role, err)
		}
		ev.Signers[i].Certificate = declared(signers[i])
	}
	file, err := semdtest.File(*ev, size)
	if err != nil {
		return fmt.Errorf("build CDA: %w", err)
	}
	// Every signer signs with ГОСТ 2012-256: the file is digested once
	// (Streebog over 10-20 KiB costs more than the signature).
	h := signer.GOST2012_256.NewHash()
	h.Write(file)
	digest := h.Sum(nil)
	for i, sr := range ev.Signers {
		at, err := datetime.ParseDateTime(string(sr.SignedAt))
		if err != nil {
			return fmt.Errorf("signed_at: %w", err)
		}
		if signers[i].Algorithm() != signer.GOST2012_256 {
			return fmt.Errorf("signer %s: algorithm %v", sr.Role, signers[i].Algorithm())
		}
		ev.Signers[i].Signature, err = cms.SignDigest(ctx, signers[i], digest, cms.SignOptions{SigningTime: at, SigningCertificateV2: true})
		if err != nil {
			return fmt.Errorf("sign the CDA: %w", err)
		}
	}
	sum := sha256.Sum256(file)
	ev.File = topics.Attachment{MediaType: semdtest.MediaType, Data: file, Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:])}
	return nil
}
