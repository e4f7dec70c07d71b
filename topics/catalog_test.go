package topics

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultCatalogIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCatalogCoversDesign(t *testing.T) {
	c := Default()
	want := []string{
		"egisz.rmis.case.v1", "egisz.rmis.document.v1", "egisz.rmis.prescription.v1",
		"egisz.lab.result.v1", "egisz.pharmacy.dispense.v1", "egisz.esia.identity.v1",
		"egisz.frmr.employee.v1", "egisz.frmo.organization.v1", "egisz.is.system.v1",
		"egisz.out.remd.v1", "egisz.out.iemk.v1", "egisz.out.erx.v1",
		"egisz.pharmacy.prescription.v1", "egisz.status.v1", "egisz.audit.v1",
		"egisz.dlq.ingress", "egisz.dlq.remd", "egisz.dlq.iemk", "egisz.dlq.erx",
		"egisz.retry.remd.30s", "egisz.retry.remd.5m", "egisz.retry.remd.1h",
		"egisz.retry.iemk.30s", "egisz.retry.erx.1h", "egisz.document.file.v1", "egisz.certificate.seen.v1",
	}
	for _, name := range want {
		if _, ok := c.Lookup(name); !ok {
			t.Errorf("catalog lacks %s", name)
		}
	}
	if n := len(c.ByRole(RoleIngress)); n != 6 {
		t.Errorf("ingress topics: got %d, want 6", n)
	}
	for _, tp := range c.ByRole(RoleReference) {
		if tp.Cleanup != CleanupCompact {
			t.Errorf("%s: reference feeds must be compacted", tp.Name)
		}
	}
	for _, tp := range c.ByRole(RoleState) {
		if tp.Cleanup != CleanupCompact && tp.Cleanup != CleanupCompactDelete {
			t.Errorf("%s: state changelogs must be compacted", tp.Name)
		}
	}
}

func TestValidateFindsBrokenCatalogs(t *testing.T) {
	base := Default()
	ingress := base.ByRole(RoleIngress)[0]
	cases := []struct {
		name   string
		mutate func(Catalog) Catalog
		want   string
	}{
		{"duplicate name", func(c Catalog) Catalog { return append(c, c[0]) }, "declared twice"},
		{"missing key", func(c Catalog) Catalog { c[1].Key = Key{}; return c }, "no key declared"},
		{"zero partitions", func(c Catalog) Catalog { c[len(c)-1].Partitions = 0; return c }, "0 partitions"},
		{"ingress without dlq", func(c Catalog) Catalog { c[0].DLQ = "egisz.dlq.nowhere"; return c }, "dead-letter topic \"egisz.dlq.nowhere\""},
		{"ingress dlq points at a non-dlq topic", func(c Catalog) Catalog { c[0].DLQ = ingress.Name; return c }, "is not a DLQ topic"},
		{"ingress without status", func(c Catalog) Catalog { c[0].Status = ""; return c }, "status topic \"\""},
		{"payload missing", func(c Catalog) Catalog { c[2].Payload = nil; return c }, "without a payload type"},
		{"patient topics disagree on partitions", func(c Catalog) Catalog { c[3].Partitions = 12; return c }, "other patient-keyed topics have"},
		{"unknown cleanup", func(c Catalog) Catalog { c[4].Cleanup = "compacted"; return c }, "unknown cleanup policy"},
		{"nobody reads it", func(c Catalog) Catalog { c[5].Consumers = nil; return c }, "producers and consumers must be named"},
		{"ingress dlq smaller than ingress", func(c Catalog) Catalog { return setLimit(c, DLQIngress, LargeRecordBytes) }, "egisz.dlq.ingress: max.message.bytes 8388608 cannot hold a record of"},
		{"status at the broker's default", func(c Catalog) Catalog { return setLimit(c, StatusTopic, 0) }, "cannot hold an accepted value of 1048576 bytes"},
		{"outbound at the broker's default", func(c Catalog) Catalog { return setLimit(c, Outbound(RegistryIEMK), 0) }, Outbound(RegistryIEMK) + ": max.message.bytes 1000012"},
		{"retry tier no larger than outbound", func(c Catalog) Catalog { return setLimit(c, Retry(RegistryREMD, time.Hour), LargeRecordBytes) }, "cannot hold an outbound record (8388608)"},
		{"registry dlq at the broker's default", func(c Catalog) Catalog { return setLimit(c, RegistryDLQ(RegistryERX), 0) }, RegistryDLQ(RegistryERX) + ": max.message.bytes 1000012 cannot hold an outbound record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.mutate(append(Catalog(nil), base...))
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestWithPrefixRenamesReferences(t *testing.T) {
	c := Default().WithPrefix("t1.")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tp := range c {
		if !strings.HasPrefix(tp.Name, "t1.") {
			t.Errorf("%s lacks the prefix", tp.Name)
		}
	}
	in, _ := c.Lookup("t1." + RMISCase)
	if in.DLQ != "t1."+DLQIngress || in.Status != "t1."+StatusTopic {
		t.Errorf("ingress references not prefixed: dlq %s status %s", in.DLQ, in.Status)
	}
	if Default()[0].Name != RMISCase {
		t.Error("WithPrefix changed the original catalog")
	}
}

func TestRetryNames(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want string
	}{{"30s", "egisz.retry.remd.30s"}, {"5m", "egisz.retry.remd.5m"}, {"1h", "egisz.retry.remd.1h"}, {"90s", "egisz.retry.remd.90s"}} {
		d := mustDuration(t, tc.d)
		if got := Retry(RegistryREMD, d); got != tc.want {
			t.Errorf("Retry(%s) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTopicExamplesMatchTheirPayload: every example record of a topic
// decodes into the topic's payload type with no field left over, names a
// header the topic documents or a CloudEvents one, and has ce_type.
func TestTopicExamplesMatchTheirPayload(t *testing.T) {
	n := 0
	for _, tp := range Default() {
		for _, ex := range tp.Examples {
			n++
			dec := json.NewDecoder(bytes.NewReader(Example(ex.File)))
			dec.DisallowUnknownFields()
			v := reflect.New(tp.Payload).Interface()
			if err := dec.Decode(v); err != nil {
				t.Errorf("%s example %s: %v", tp.Name, ex.Name, err)
			}
			for h := range ex.Headers {
				if _, ok := tp.Headers[h]; !ok && !strings.HasPrefix(h, "ce_") && h != "content-type" {
					t.Errorf("%s example %s: header %s is not documented", tp.Name, ex.Name, h)
				}
			}
			if ex.Headers["ce_type"] != tp.EventType {
				t.Errorf("%s example %s: ce_type %q, want %q", tp.Name, ex.Name, ex.Headers["ce_type"], tp.EventType)
			}
		}
	}
	if n < 3 {
		t.Errorf("%d examples", n)
	}
}

// setLimit sets one topic's max.message.bytes in c.
func setLimit(c Catalog, name string, bytes int32) Catalog {
	for i := range c {
		if c[i].Name == name {
			c[i].MaxMessageBytes = bytes
		}
	}
	return c
}

// An inline document at the limit, base64 in JSON, must leave room under
// the ingress value limit for its signatures and metadata, or it would be
// refused DECODE_TOO_LARGE before its own limit is ever reached.
func TestDocumentInlineFitsTheValueLimit(t *testing.T) {
	encoded := (DocumentInlineBytes + 2) / 3 * 4
	if room := DefaultMaxValueBytes - encoded; room < 32<<10 {
		t.Errorf("an inline file of %d bytes is %d in base64, leaving %d bytes of the %d-byte value limit for signatures and metadata; want at least 32 KiB",
			DocumentInlineBytes, encoded, room, DefaultMaxValueBytes)
	}
	doc, ok := Default().Lookup(RMISDocument)
	if !ok || doc.MaxInlineFileBytes != DocumentInlineBytes {
		t.Errorf("%s: MaxInlineFileBytes = %d, want %d", RMISDocument, doc.MaxInlineFileBytes, DocumentInlineBytes)
	}
}

// TestFetchedDocumentsFitTheStore: the largest document the gateway fetches
// by reference, in base64 with 64 KiB for its signatures and metadata, fits
// a record of the document store, so an accepted document can always be
// stored.
func TestFetchedDocumentsFitTheStore(t *testing.T) {
	need := (DocumentFetchMaxBytes+2)/3*4 + 64<<10
	if need > DocumentFileRecordBytes {
		t.Fatalf("a fetched document of %d bytes needs a store record of %d bytes; the store takes %d", DocumentFetchMaxBytes, need, DocumentFileRecordBytes)
	}
}
