// Package certseen makes the records of the certificates seen in
// documents (topics.CertificateSeen): the signing certificates found inside
// the signatures of documents the gateway accepts, so that the expiry
// warnings count the certificates clinics really sign with, not only those
// ФРМР lists. It also says, from a side table of the normalize stage's
// partition, which of them to publish: a certificate is published once and
// then again only after Refresh, not once per document.
package certseen

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Table is the side table, in the normalize stage's partition state, of
// when each certificate (by its topic key) was last published from the
// partition. An entry is 8 bytes: that time in Unix milliseconds.
const Table = "certseen"

// Refresh is how long a published certificate is not published again from
// the same partition. Once would do if nothing were lost, but the side
// entry is written before an accepted document's business id is claimed
// in another partition (gateway/normalize's hop), and a claim refused as
// CROSS_PATIENT_DUPLICATE drops the record while the entry stays; a topic
// recreated empty loses them all. Publishing again a day later bounds what
// such a loss hides to a day, well inside the 7-day warning, for at most
// one record a day per certificate, clinic and partition.
const Refresh = 24 * time.Hour

// maxHolder bounds an organization's name in the holder label.
const maxHolder = 200

// ErrNoCertificate is returned for a signer without its certificate.
var ErrNoCertificate = errors.New("no certificate")

// Seen is one certificate seen in an accepted document, ready to publish
// under Key (the topic's key: fingerprint and clinic).
type Seen struct {
	Key    string
	Record topics.SeenCertificate
}

// Key is the topic's key of a certificate seen for a clinic: the SHA-256
// of its DER in hex, a bar, the clinic's OID. A worker at two clinics signs
// for both with one certificate, and each clinic must count it.
func Key(sha256Hex, moOID string) string { return sha256Hex + "|" + moOID }

// FromSignature is the record of a signer's certificate, seen at seenAt in
// a document of the clinic moOID where the signer signed as role.
func FromSignature(moOID, role string, cert *x509.Certificate, subject gostx509.Subject, seenAt time.Time) (Seen, error) {
	if cert == nil {
		return Seen{}, ErrNoCertificate
	}
	sum := sha256.Sum256(cert.Raw)
	fp := hex.EncodeToString(sum[:])
	issuer := cert.Issuer.CommonName
	if issuer == "" {
		issuer = cert.Issuer.String()
	}
	return Seen{Key: Key(fp, moOID), Record: topics.SeenCertificate{
		SHA256: fp, MOOID: moOID, Role: role,
		Serial:    hex.EncodeToString(cert.SerialNumber.Bytes()),
		Issuer:    issuer,
		NotBefore: topics.DateTime(cert.NotBefore.UTC().Format(time.RFC3339)),
		NotAfter:  topics.DateTime(cert.NotAfter.UTC().Format(time.RFC3339)),
		Holder:    HolderLabel(subject),
		SeenAt:    topics.DateTime(seenAt.UTC().Format(time.RFC3339)),
	}}, nil
}

// HolderLabel names a certificate's holder without personal data: a
// person (a СНИЛС, a surname or an ОГРНИП: a sole proprietor is a person)
// by the initials of their names, masked (П*** А*** С***); an organization
// by its name, which is public. The СНИЛС is never in it.
func HolderLabel(s gostx509.Subject) string {
	person := s.SNILS != "" || s.Surname != "" || s.GivenNames != "" || s.OGRNIP != ""
	if !person {
		name := strings.Join(strings.Fields(s.Organization), " ")
		if name == "" {
			name = strings.Join(strings.Fields(s.CommonName), " ")
		}
		if r := []rune(name); len(r) > maxHolder {
			name = string(r[:maxHolder]) + "…"
		}
		return name
	}
	names := strings.Fields(s.Surname + " " + s.GivenNames)
	if len(names) == 0 {
		names = strings.Fields(s.CommonName)
	}
	for i, n := range names {
		names[i] = ident.MaskName(n)
	}
	return strings.Join(names, " ")
}

// Publish says which of the certificates to publish, with the side-table
// writes that remember it: those the partition has not published within
// Refresh, and that are still valid at now (an expired one warns no one).
// A certificate listed twice (two signers with one certificate) is
// published once.
func Publish(seen []Seen, side seam.SideReader, now time.Time) ([]seam.SideWrite, []seam.Publish) {
	var (
		writes []seam.SideWrite
		pubs   []seam.Publish
		done   = map[string]bool{}
	)
	for _, s := range seen {
		if done[s.Key] || !stillValid(s.Record, now) || recentlyPublished(side, s.Key, now) {
			continue
		}
		done[s.Key] = true
		body, err := json.Marshal(s.Record)
		if err != nil {
			continue // a struct of strings: cannot fail
		}
		writes = append(writes, seam.SideWrite{Table: Table, Key: s.Key, Value: encodeEntry(now)})
		pubs = append(pubs, seam.Publish{Topic: topics.CertificateSeen, Key: s.Key, Value: body,
			Headers: map[string]string{topics.HeaderID: recordID(s.Key, now)}})
	}
	return writes, pubs
}

func stillValid(r topics.SeenCertificate, now time.Time) bool {
	na, err := time.Parse(time.RFC3339, string(r.NotAfter))
	return err == nil && na.After(now)
}

// recentlyPublished reports whether the partition published the key within
// Refresh of now. An unreadable entry, or one from the future (a clock set
// back), counts as not published.
func recentlyPublished(side seam.SideReader, key string, now time.Time) bool {
	b, ok := side.Side(Table, key)
	if !ok {
		return false
	}
	at, err := decodeEntry(b)
	if err != nil {
		return false
	}
	age := now.Sub(at)
	return age >= 0 && age < Refresh
}

func encodeEntry(at time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(at.UnixMilli()))
}

func decodeEntry(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("certificate entry is %d bytes, not 8", len(b))
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b))), nil
}

// recordID is the record's ce_id: derived from the key and the time, so
// that the same record written twice has one id.
func recordID(key string, at time.Time) string {
	return ident.HashUUID(key + "|" + at.UTC().Format(time.RFC3339Nano))
}
