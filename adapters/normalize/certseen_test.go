package normalize

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/certseen"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// seenOf returns the records a settled decision publishes to the topic of
// certificates seen in documents, by key.
func seenOf(t *testing.T, dec Decision) map[string]topics.SeenCertificate {
	t.Helper()
	out := map[string]topics.SeenCertificate{}
	for _, p := range dec.Publish {
		if p.Topic != topics.CertificateSeen {
			continue
		}
		var r topics.SeenCertificate
		if err := json.Unmarshal(p.Value, &r); err != nil {
			t.Fatalf("%s: %v", p.Key, err)
		}
		if p.Headers[topics.HeaderID] == "" {
			t.Errorf("%s: no ce_id", p.Key)
		}
		out[p.Key] = r
	}
	return out
}

// An accepted document publishes each of its signers' certificates once
// per partition: not again for the next document signed with them, again
// in another partition, and again from the same one after a day.
func TestSeenCertificatesPublishedOncePerPartition(t *testing.T) {
	pki, ev, refs := signedSetup(t)
	d := NewDecider(source.DefaultOptions(), refs).WithDocuments(Documents{Checker: checkerOf(t, pki)})
	var serials []string
	var notAfter time.Time
	for _, s := range ev.Signers {
		sd, err := cms.Parse(s.Signature)
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, strings.TrimLeft(sd.Signer.SerialNumber.Text(16), "0"))
		notAfter = sd.Signer.NotAfter
	}
	settle := func(ev topics.DocumentEvent, sd side, at time.Time, edit func(map[string]any)) Decision {
		t.Helper()
		dec := d.Decide(docInput(t, ev, edit), now)
		if len(dec.Reasons) == 0 {
			d.Settle(&dec, sd, at)
		}
		return dec
	}

	first := side{}
	dec := settle(ev, first, now, nil)
	if len(dec.Reasons) > 0 {
		t.Fatalf("the signed example is refused: %+v", dec.Reasons)
	}
	got := seenOf(t, dec)
	if len(got) != len(ev.Signers) {
		t.Fatalf("%d certificates published, want %d (one per signer)", len(got), len(ev.Signers))
	}
	roles := map[string]bool{}
	for key, r := range got {
		if key != certseen.Key(r.SHA256, ev.MOOID) || r.MOOID != ev.MOOID {
			t.Errorf("key %s, mo %s: want the fingerprint and %s", key, r.MOOID, ev.MOOID)
		}
		if !strings.Contains(strings.Join(serials, " "), strings.TrimLeft(r.Serial, "0")) || r.Issuer == "" || r.NotAfter == "" || r.NotBefore == "" {
			t.Errorf("%s: serial %s, issuer %q, validity %s…%s: not the signature's certificate", key, r.Serial, r.Issuer, r.NotBefore, r.NotAfter)
		}
		roles[r.Role] = true
		// The holder is masked: no name, no СНИЛС anywhere in the value.
		for _, p := range dec.Publish {
			if p.Key == key {
				for _, no := range []string{"Петров", "Алексей", "12345678964", "123-456-789"} {
					if strings.Contains(string(p.Value), no) {
						t.Errorf("%s: the record shows %q: %s", key, no, p.Value)
					}
				}
			}
		}
	}
	for _, s := range ev.Signers {
		if !roles[s.Role] {
			t.Errorf("no certificate published for the %s's signature", s.Role)
		}
	}
	first.apply(dec)

	// The document signed again with the same certificates, in the same
	// partition: nothing published again.
	again := settle(signedExample(t, pki), first, now.Add(time.Hour), nil)
	if len(again.Reasons) > 0 || len(seenOf(t, again)) != 0 {
		t.Errorf("second document: reasons %+v, %d certificates published again", again.Reasons, len(seenOf(t, again)))
	}
	// Another partition has not published them.
	if n := len(seenOf(t, settle(ev, side{}, now.Add(time.Hour), nil))); n != len(ev.Signers) {
		t.Errorf("another partition published %d certificates, want %d", n, len(ev.Signers))
	}
	// A day later the partition publishes them again.
	if n := len(seenOf(t, settle(ev, first, now.Add(certseen.Refresh+time.Minute), nil))); n != len(ev.Signers) {
		t.Errorf("after %s: %d certificates published, want %d", certseen.Refresh, n, len(ev.Signers))
	}
	// Certificates expired when the document is settled warn no one.
	if n := len(seenOf(t, settle(ev, side{}, notAfter.Add(time.Hour), nil))); n != 0 {
		t.Errorf("expired certificates: %d published", n)
	}
	// A refused document publishes nothing.
	refused := settle(ev, side{}, now, func(m map[string]any) { m["file"].(map[string]any)["sha256"] = strings.Repeat("0", 64) })
	if len(refused.Reasons) == 0 || len(refused.Publish) != 0 || len(refused.Side) != 0 {
		t.Errorf("refused document: reasons %+v, %d records, %d side writes", refused.Reasons, len(refused.Publish), len(refused.Side))
	}
}
