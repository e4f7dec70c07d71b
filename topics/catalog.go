// Package topics is the contract between the gateway and everything that
// talks to it through Kafka: every topic's name, key, partitioning,
// retention, payload type, producers and consumers, declared once as a table.
//
// The AsyncAPI document and the JSON Schemas under docs/ are generated from
// this table, and Ensure creates or checks the topics on a cluster from it.
// The package imports nothing else of the gateway's.
package topics

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Role says what a topic is for in the pipeline.
type Role string

// The roles of the topics in the catalog.
const (
	RoleIngress   Role = "ingress"   // written by a source system, read by the normalize stage
	RoleReference Role = "reference" // a compacted reference feed (FRMR, FRMO), read whole
	RoleOutbound  Role = "outbound"  // validated work for one registry
	RolePharmacy  Role = "pharmacy"  // validated prescriptions for pharmacy chains
	RoleStatus    Role = "status"    // the outcome of every ingress event, for its source
	RoleRetry     Role = "retry"     // a delayed retry tier of one registry
	RoleDLQ       Role = "dlq"       // dead letters of one stage
	RoleState     Role = "state"     // a compacted changelog of a state store
	RoleHop       Role = "hop"       // the gateway's own records, taken to the partition that owns another key
	RoleAudit     Role = "audit"     // operator actions
)

// Cleanup is a topic's cleanup.policy.
type Cleanup string

// The cleanup policies the catalog uses.
const (
	CleanupDelete  Cleanup = "delete"
	CleanupCompact Cleanup = "compact"
	// CleanupCompactDelete compacts and also deletes what is older than
	// the retention, tombstoned or not.
	CleanupCompactDelete Cleanup = "compact,delete"
)

// Key describes what a topic's record key holds.
type Key struct {
	Name        string // short identifier, e.g. "patient"
	Description string // what the bytes are, for people and for the AsyncAPI document
}

// The record keys used by the catalog. Patient-keyed topics are co-partitioned:
// the same key lands on the same partition number in each of them.
var (
	KeyPatient  = Key{"patient", "Patient key: the normalized СНИЛС (11 digits); without one, `enp:<16 digits>` or `local:<MO OID>:<patient id>`."}
	KeyDedup    = Key{"dedup", "A kind byte and the 16-byte SHA-256 prefix of the dedup key `<patient key>|<event kind>|<business id>` (case id, setId, prescription number): no personal data in internal topics."}
	KeyEmpl     = Key{"employee", "The employee's normalized СНИЛС (11 digits)."}
	KeyOrg      = Key{"organization", "The medical organization's OID (ФРМО)."}
	KeySystem   = Key{"system", "The information system's ce_source, exactly as its events carry it."}
	KeyDoc      = Key{"document", "The ce_id of the event whose document was sent to РЭМД (the idempotency key of the registration)."}
	KeyRecord   = Key{"dlq-record", "`<dlq topic>/<partition>/<offset>` of the dead-letter record."}
	KeyOrig     = Key{"original", "The original record's key, byte for byte."}
	KeyActor    = Key{"actor", "The operator who acted."}
	KeyRx       = Key{"prescription", "The prescription's `<series>/<number>`: a prescription's changes share a partition and are read in order."}
	KeyCertSeen = Key{"certificate", "`<SHA-256 of the certificate's DER, hex>|<MO OID>`: one record per certificate and clinic it signed for (a worker with posts at two clinics signs for both)."}
	KeyBusiness = Key{"business", "An event's business id with its kind: `case|<MO OID>|<case id>`, `document|<setId>`, `prescription|<series>/<number>`, `lab|<lab OID>|<referral>|<sample>`."}
)

// Topic is one row of the catalog.
type Topic struct {
	Name       string
	Role       Role
	Purpose    string
	Key        Key
	Partitions int32
	Cleanup    Cleanup
	// Retention is retention.ms; zero keeps the broker's default (compacted
	// topics keep the latest record per key forever).
	Retention time.Duration
	// MaxMessageBytes is max.message.bytes; zero keeps the broker's default
	// (about 1 MB).
	MaxMessageBytes int32
	// MaxInlineFileBytes is, for a topic whose events carry a file, the
	// largest file carried inline (decoded); a larger one goes by reference.
	// Zero: the events carry no file.
	MaxInlineFileBytes int
	// Payload is the Go type of the record value; nil for topics that carry
	// another topic's records byte for byte (dead letters, retry tiers).
	Payload reflect.Type
	// EventType is the CloudEvents ce_type of the records, when one fixed type applies.
	EventType string
	Producers []string
	Consumers []string
	// DLQ and Status name, for an ingress topic, where its failures and its
	// outcomes go.
	DLQ    string
	Status string
	// Headers are the topic's own headers beside the CloudEvents ones, with
	// what each says.
	Headers map[string]string
	// Examples are whole records, documented in the AsyncAPI.
	Examples []MessageExample
}

// MessageExample is one example record of a topic: its headers and the
// example file (under examples/) that is its value.
type MessageExample struct {
	Name, Summary string
	Key           string
	Headers       map[string]string
	File          string
}

// GatewayConsumes reports whether the gateway itself reads the topic.
func (t Topic) GatewayConsumes() bool { return contains(t.Consumers, ActorGateway) }

// GatewayProduces reports whether the gateway itself writes the topic.
func (t Topic) GatewayProduces() bool { return contains(t.Producers, ActorGateway) }

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Producers and consumers named in the catalog.
const (
	ActorGateway  = "egisz-gateway"
	ActorRMIS     = "РМИС/МИС (regional and clinic MIS)"
	ActorLab      = "ЛИС (laboratory systems)"
	ActorPharmacy = "pharmacy chains"
	ActorESIA     = "ЕСИА identity bridge"
	ActorFRMR     = "ФРМР feed"
	ActorFRMO     = "ФРМО feed"
	ActorSystems  = "integrators (the information systems registered in ЕГИСЗ)"
	ActorOperator = "operators (dlq replay, audit)"
	ActorSources  = "every source system (reads its outcomes)"
)

// Registry names the federal registries the gateway forwards to.
type Registry string

// The registries with an outbound topic.
const (
	RegistryREMD Registry = "remd" // РЭМД, electronic medical documents
	RegistryIEMK Registry = "iemk" // ИЭМК, the integrated electronic medical record
	RegistryERX  Registry = "erx"  // the prescription registry
)

// Registries lists every destination registry in a stable order.
var Registries = []Registry{RegistryREMD, RegistryIEMK, RegistryERX}

// RetryTiers are the default delays of the retry topics.
var RetryTiers = []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour}

// Default partition counts. Patient-keyed topics share one count so that
// they stay co-partitioned with the state that follows their keys.
const (
	PatientPartitions   int32 = 6
	ReferencePartitions int32 = 3
)

// Names of the fixed topics.
const (
	RMISCase          = "egisz.rmis.case.v1"
	RMISDocument      = "egisz.rmis.document.v1"
	RMISPrescription  = "egisz.rmis.prescription.v1"
	LabResult         = "egisz.lab.result.v1"
	PharmacyDispense  = "egisz.pharmacy.dispense.v1"
	ESIAIdentity      = "egisz.esia.identity.v1"
	FRMREmployee      = "egisz.frmr.employee.v1"
	FRMOOrganization  = "egisz.frmo.organization.v1"
	InfoSystems       = "egisz.is.system.v1"
	CertificateSeen   = "egisz.certificate.seen.v1"
	PharmacyRx        = "egisz.pharmacy.prescription.v1"
	StatusTopic       = "egisz.status.v1"
	DLQIngress        = "egisz.dlq.ingress"
	AuditTopic        = "egisz.audit.v1"
	NormalizeState    = "egisz.state.normalize.v1"
	NormalizeBusiness = "egisz.normalize.bybusiness.v1"
	REMDPendingState  = "egisz.state.remd-pending.v1"
	DLQReplayState    = "egisz.state.dlq-replay.v1"
	RetryParkedState  = "egisz.state.retry-parked.v1"
	outboundPrefix    = "egisz.out."
	retryPrefix       = "egisz.retry."
	registryDLQPrefix = "egisz.dlq."
)

// Consumer groups of the gateway, before any topic prefix. They are part
// of the operational contract: ACLs and lag dashboards name them.
const GroupNormalize = "egisz-normalize"

// GroupForward names the consumer group of a registry's forward stage.
func GroupForward(r Registry) string { return "egisz-forward-" + string(r) }

// GroupRetry names the consumer group of a registry's retry tier.
func GroupRetry(r Registry, delay time.Duration) string {
	return "egisz-retry-" + string(r) + "-" + shortDuration(delay)
}

// Groups lists every consumer group of the gateway with these retry tiers.
func Groups(tiers []time.Duration) []string {
	out := []string{GroupNormalize}
	for _, r := range Registries {
		out = append(out, GroupForward(r))
		for _, d := range tiers {
			out = append(out, GroupRetry(r, d))
		}
	}
	return out
}

// Outbound names the outbound topic of a registry.
func Outbound(r Registry) string { return outboundPrefix + string(r) + ".v1" }

// RegistryDLQ names the dead-letter topic of a registry's forward stage.
func RegistryDLQ(r Registry) string { return registryDLQPrefix + string(r) }

// Retry names a registry's retry tier with the given delay, e.g. egisz.retry.remd.30s.
func Retry(r Registry, delay time.Duration) string {
	return retryPrefix + string(r) + "." + shortDuration(delay)
}

// shortDuration spells a delay the way topic names do: 30s, 5m, 1h.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

const (
	week = 7 * 24 * time.Hour
	day  = 24 * time.Hour
)

// Catalog is the list of topics, in the order they are documented.
type Catalog []Topic

// LargeRecordBytes is max.message.bytes of the ingress topics and of every
// topic an accepted event is written to (outbound, pharmacy, status). A
// record over the gateway's own limit on values (1 MiB by default) must
// reach the gateway to be refused with a reason (DECODE_TOO_LARGE) and
// parked whole: at the broker's default the producer would get only
// MESSAGE_TOO_LARGE, and an operator nothing to look at. A value the
// gateway accepts, with its envelope and headers, fits the outbound,
// pharmacy and status topics many times over.
const LargeRecordBytes = 8 << 20

// DefaultMaxValueBytes is the gateway's default limit on an ingress value
// (normalize.max_record_bytes), published with the ingress topics.
const DefaultMaxValueBytes = 1 << 20

// DocumentInlineBytes is the largest CDA file a document event may carry
// inline (file.data, decoded). Base64 makes it 960 KiB, which leaves 64 KiB
// of the ingress value limit (DefaultMaxValueBytes, 1 MiB) for the
// signatures (a few KiB each) and the metadata; 768 KiB would already be
// 1 MiB in base64 alone. A larger file travels by reference (file.ref).
const DocumentInlineBytes = 720 << 10

// DocumentFetchMaxBytes is the hard cap on a document fetched by
// reference, whatever size the event declares: a СЭМД is 10 KiB to a few
// MiB, and the gateway stops reading a larger one (DOCUMENT_TOO_LARGE).
// It is what the document store holds (DocumentFileRecordBytes: the file
// in base64 with room for its signatures), so a document the gateway
// accepts can always be stored, and one it cannot store is refused with
// the reason that says so rather than OUTPUT_TOO_LARGE.
const DocumentFetchMaxBytes = 11 << 20

// ParkedRecordBytes is max.message.bytes of the topics that carry another
// topic's record byte for byte with the gateway's own headers added: the
// dead-letter topics and the retry tiers. The headroom holds the dlq.* and
// retry headers, so whatever the topic before them took fits here too.
const ParkedRecordBytes = LargeRecordBytes + HeaderHeadroomBytes

// HeaderHeadroomBytes is the room the gateway keeps for the headers it adds
// to a record it parks or retries (reason, message, attempts, history).
const HeaderHeadroomBytes = 64 << 10

// PendingRecordBytes is max.message.bytes of РЭМД's pending documents: an
// entry holds the outbound record as JSON, key and value in base64 (4/3 of
// their size), with its headers.
const PendingRecordBytes = 2 * LargeRecordBytes

// HopRecordBytes is max.message.bytes of the normalize stage's hop: a
// record there holds the ingress record and what it becomes (the outbound
// envelope with the normalized event), so up to twice an ingress record.
const HopRecordBytes = 2*LargeRecordBytes + HeaderHeadroomBytes

// DefaultBatchBytes is Kafka's default max.message.bytes, the batch size
// producers keep to for the other topics.
const DefaultBatchBytes = 1_000_012

// BatchMaxBytes is the largest batch a producer may send to topic: its
// max.message.bytes (kgo.ProducerBatchMaxBytesFn takes it). A record whose
// batch alone is larger (recsize.Batch) can never be written to it.
func (c Catalog) BatchMaxBytes(topic string) int32 {
	if t, ok := c.Lookup(topic); ok {
		return t.BatchMaxBytes()
	}
	return DefaultBatchBytes
}

// BatchMaxBytes is the topic's max.message.bytes, the broker's default
// when the catalog sets none.
func (t Topic) BatchMaxBytes() int32 {
	if t.MaxMessageBytes > 0 {
		return t.MaxMessageBytes
	}
	return DefaultBatchBytes
}

// withInlineFile sets the topic's limit on an inline file.
func (t Topic) withInlineFile(n int) Topic {
	t.MaxInlineFileBytes = n
	return t
}

// Default returns the catalog of the gateway with its default retry tiers.
func Default() Catalog { return Build(RetryTiers) }

// Build returns the catalog with the given retry tiers.
func Build(tiers []time.Duration) Catalog {
	ingress := func(name, purpose string, payload any, ceType, producer string) Topic {
		return Topic{
			Name: name, Role: RoleIngress, Purpose: purpose, Key: KeyPatient,
			Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: week,
			Payload: reflect.TypeOf(payload), EventType: ceType,
			Producers: []string{producer}, Consumers: []string{ActorGateway},
			DLQ: DLQIngress, Status: StatusTopic, MaxMessageBytes: LargeRecordBytes,
		}
	}
	c := Catalog{
		ingress(RMISCase, "Treatment cases (случай): open, update, close, with visits, diagnoses, doctor and MO.",
			CaseEvent{}, "ru.egisz.rmis.case.v1", ActorRMIS),
		ingress(RMISDocument, "Signed СЭМД to register in РЭМД: the CDA XML file (inline up to 720 KiB, above that by the MIS's https reference with size and sha256) and one detached CMS signature over it per signer (the doctor's ЭП МР, the organization's ЭП МО). What the signatures say is derived from them, not declared: the certificates' validity, chain and key usage, the signers' СНИЛС and names, the signing times, the file's digest. What the event still declares is cross-checked against the CDA (patient, authors, custodian, ids, kind) and the signatures (signers, certificates, signed_at), and the signers against ФРМР.",
			DocumentEvent{}, "ru.egisz.rmis.document.v1", ActorRMIS).withInlineFile(DocumentInlineBytes),
		ingress(RMISPrescription, "Prescriptions (рецепты) issued or cancelled.",
			PrescriptionEvent{}, "ru.egisz.rmis.prescription.v1", ActorRMIS),
		ingress(LabResult, "Laboratory results: referral, sample, tests with ФСЛИ codes, values, units.",
			LabResultEvent{}, "ru.egisz.lab.result.v1", ActorLab),
		withExamples(ingress(PharmacyDispense, "A pharmacy dispensed against a prescription. Key it by the same patient key as the prescription (its СНИЛС when it has one): the prescription's state lives with the patient's other state.",
			DispensationEvent{}, "ru.egisz.pharmacy.dispense.v1", ActorPharmacy),
			MessageExample{Name: "dispensation", Summary: "One of two packs dispensed; its outcome comes on egisz.status.v1 under the same ce_id.", Key: "11223344595",
				Headers: map[string]string{"ce_specversion": "1.0", "ce_id": "zdorovye-APT-77-2024-0009931", "ce_source": "zdorovye", "ce_type": "ru.egisz.pharmacy.dispense.v1", "content-type": "application/json"},
				File:    "dispensation.json"}),
		ingress(ESIAIdentity, "Gosuslugi identity bridge: identity confirmed or updated, consent granted or revoked. "+
			"This is where the gateway learns of consent: the identity bridge's consent_granted and consent_revoked events, and the same events published by a MIS for a signed informed-consent document it holds (ce_source its own; the signed document itself goes to РЭМД on egisz.rmis.document.v1). "+
			"A revocation stops the patient's later events with CONSENT_REVOKED; only consent events of normalize.consent_scope count when it is set, so revoking another scope leaves the federal exchange alone. "+
			"Events named in normalize.consent_required_for (off by default) are forwarded only with a consent on record, otherwise CONSENT_MISSING.",
			IdentityEvent{}, "ru.egisz.esia.identity.v1", ActorESIA),
		{
			Name: FRMREmployee, Role: RoleReference, Purpose: "ФРМР medical workers: posts at MOs with dates, signing certificates. Latest per employee.",
			Key: KeyEmpl, Partitions: ReferencePartitions, Cleanup: CleanupCompact,
			Payload: reflect.TypeOf(Employee{}), EventType: "ru.egisz.frmr.employee.v1",
			Producers: []string{ActorFRMR}, Consumers: []string{ActorGateway},
		},
		{
			Name: FRMOOrganization, Role: RoleReference, Purpose: "ФРМО medical organizations: OID, region, active from/until. Latest per organization.",
			Key: KeyOrg, Partitions: ReferencePartitions, Cleanup: CleanupCompact,
			Payload: reflect.TypeOf(Organization{}), EventType: "ru.egisz.frmo.organization.v1",
			Producers: []string{ActorFRMO}, Consumers: []string{ActorGateway},
		},
		{
			Name: InfoSystems, Role: RoleReference, Purpose: "Information systems registered in ЕГИСЗ (РМИС, МИС, ЛИС): the ce_source their events carry, their clientEntityId, the MO OIDs each may send for, its region, active from/until. Latest per system. " +
				"While the topic is empty the binding check is off; once it holds a system, an event from a ce_source it does not list, or not bound to the event's MO, is rejected with NO_RMIS, one from a system outside its active dates with DISABLED_RMIS, one for an MO of another region with RMIS_REGION_MISMATCH.",
			Key: KeySystem, Partitions: ReferencePartitions, Cleanup: CleanupCompact,
			Payload: reflect.TypeOf(InformationSystem{}), EventType: "ru.egisz.is.system.v1",
			Producers: []string{ActorSystems}, Consumers: []string{ActorGateway},
		},
		{
			Name: CertificateSeen, Role: RoleReference, Purpose: "Signing certificates seen inside the signatures of accepted documents, by clinic: serial, issuer, validity, the signer's role and a masked holder label (no name, no СНИЛС). " +
				"The normalize stage writes one when it accepts a document signed with a certificate its partition has not published in the last day (in the transaction that accepts the document), so a certificate is written a few times a day at most, not once per document. " +
				"Counted with ФРМР's certificates by egisz_certificates_expiring and `egisz-gateway certificates --expiring`. Latest per certificate and clinic.",
			Key: KeyCertSeen, Partitions: ReferencePartitions, Cleanup: CleanupCompact,
			Payload: reflect.TypeOf(SeenCertificate{}), EventType: "ru.egisz.certificate.seen.v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway},
			Examples: []MessageExample{{Name: "seen", Summary: "The doctor's certificate, seen signing a document of the clinic; published again a day later if still in use.",
				Key:     "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592|1.2.643.5.1.13.13.12.1.42.202",
				Headers: map[string]string{"ce_specversion": "1.0", "ce_id": "7c1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6", "ce_source": "egisz-gateway", "ce_type": "ru.egisz.certificate.seen.v1", "content-type": "application/json"},
				File:    "certificate_seen.json"}},
		},
	}
	for _, r := range Registries {
		c = append(c, Topic{
			Name: Outbound(r), Role: RoleOutbound, Purpose: "Validated, deduplicated work for " + registryTitle[r] + ".",
			Key: KeyPatient, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: week,
			Payload: reflect.TypeOf(OutboundEvent{}), EventType: "ru.egisz.out." + string(r) + ".v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway}, MaxMessageBytes: LargeRecordBytes,
		})
	}
	c = append(c,
		Topic{
			Name: PharmacyRx, Role: RolePharmacy, Purpose: "Validated prescriptions and every change of their state (issued, partly dispensed, dispensed, cancelled, expired), for pharmacy chains. Headers ce_region, ce_rxstate, ce_pharmacychain and ce_pharmacyid select records without decoding them.",
			Key: KeyRx, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: 30 * day,
			Payload: reflect.TypeOf(PharmacyPrescription{}), EventType: "ru.egisz.pharmacy.prescription.v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorPharmacy}, MaxMessageBytes: LargeRecordBytes,
			Headers: map[string]string{
				HeaderRegion:        "The prescription's region code: a chain reads the regions it serves.",
				HeaderRxState:       "The new state: issued, partly_dispensed, dispensed, cancelled, expired.",
				HeaderPharmacyChain: "On a change made by a dispensation: the chain that dispensed.",
				HeaderPharmacyID:    "On a change made by a dispensation: the pharmacy, within its chain.",
			},
			Examples: []MessageExample{
				{Name: "issued", Summary: "An MIS issued a prescription: every chain of region 42 may dispense it.", Key: "42-24/000731",
					Headers: map[string]string{"ce_id": "4f9c2a1e-1d6b-5b7e-9a0c-1f2e3d4c5b6a", "ce_source": "1.2.643.5.1.13.13.12.1.42.202", "ce_type": "ru.egisz.pharmacy.prescription.v1", HeaderRegion: "42", HeaderRxState: "issued"},
					File:    "pharmacy_prescription_issued.json"},
				{Name: "partly_dispensed", Summary: "A pharmacy of the chain zdorovye dispensed one of two packs.", Key: "42-24/000731",
					Headers: map[string]string{"ce_id": "0b7d3c2f-8e4a-5f1b-b6c9-2d3e4f5a6b7c", "ce_source": "egisz-gateway", "ce_type": "ru.egisz.pharmacy.prescription.v1", HeaderRegion: "42", HeaderRxState: "partly_dispensed", HeaderPharmacyChain: "zdorovye", HeaderPharmacyID: "zdorovye-0142"},
					File:    "pharmacy_prescription_dispensed.json"},
			},
		},
		Topic{
			Name: StatusTopic, Role: RoleStatus, Purpose: "The outcome of every ingress event: accepted, registered, rejected with reasons, duplicate, conflict.",
			Key: KeyPatient, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: 30 * day,
			Payload: reflect.TypeOf(Status{}), EventType: "ru.egisz.status.v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorSources}, MaxMessageBytes: LargeRecordBytes,
		},
		Topic{
			Name: DLQIngress, Role: RoleDLQ, Purpose: "Ingress records the normalize stage could not accept, byte for byte with the reason in headers.",
			Key: KeyOrig, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: 30 * day,
			Producers: []string{ActorGateway}, Consumers: []string{ActorOperator}, MaxMessageBytes: ParkedRecordBytes,
		},
	)
	for _, r := range Registries {
		for _, d := range tiers {
			c = append(c, Topic{
				Name: Retry(r, d), Role: RoleRetry, Purpose: fmt.Sprintf("Records for %s waiting %s before their next attempt.", registryTitle[r], shortDuration(d)),
				Key: KeyPatient, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: week,
				Producers: []string{ActorGateway}, Consumers: []string{ActorGateway}, MaxMessageBytes: ParkedRecordBytes,
			})
		}
		c = append(c, Topic{
			Name: RegistryDLQ(r), Role: RoleDLQ, Purpose: "Records " + registryTitle[r] + " rejected or that exhausted their retries, byte for byte with the reason in headers.",
			Key: KeyOrig, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: 30 * day,
			Producers: []string{ActorGateway}, Consumers: []string{ActorOperator}, MaxMessageBytes: ParkedRecordBytes,
		})
	}
	c = append(c,
		Topic{
			Name: NormalizeState, Role: RoleState, Purpose: "Changelog of the normalize stage's state (dedup fingerprints, prescription state), co-partitioned with the ingress topics.",
			Key: KeyDedup, Partitions: PatientPartitions, Cleanup: CleanupCompact,
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway},
		},
		Topic{
			Name: NormalizeBusiness, Role: RoleHop, Purpose: "The normalize stage's own records, taken to the partition that must decide them: an accepted event with what it becomes, to its business id's partition, where the stage checks that the id keeps to the patient it first came with (CROSS_PATIENT_DUPLICATE) before it writes them; a refused one's dedup entry back to its patient's; an ingress record that came on another partition than its key's, to its key's. Read by the same stage, co-partitioned with the ingress topics; records are placed by the stage, not by key.",
			Key: KeyBusiness, Partitions: PatientPartitions, Cleanup: CleanupDelete, Retention: week,
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway}, MaxMessageBytes: HopRecordBytes,
		},
		Topic{
			Name: REMDPendingState, Role: RoleState, Purpose: "Documents accepted by РЭМД and waiting for its callback.",
			Key: KeyDoc, Partitions: PatientPartitions, Cleanup: CleanupCompact, MaxMessageBytes: PendingRecordBytes,
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway},
		},
		Topic{
			Name: RetryParkedState, Role: RoleState, Purpose: "Keys that have a record waiting in a retry tier; later records of those keys queue behind it.",
			Key: KeyDedup, Partitions: PatientPartitions, Cleanup: CleanupCompact,
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway},
		},
		Topic{
			Name: DocumentFileTopic, Role: RoleState, Purpose: "The document store: each accepted signed СЭМД (the CDA file and its signatures), written with its outbound record, until РЭМД has registered it or no replay can send it again; getDocumentFile is answered from it on any instance.",
			Key: KeyLocalUID, Partitions: PatientPartitions, Cleanup: CleanupCompactDelete, Retention: DocumentFileRetention,
			MaxMessageBytes: DocumentFileRecordBytes, Payload: reflect.TypeOf(StoredDocument{}), EventType: "ru.egisz.document.file.v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway},
		},
		Topic{
			Name: DLQReplayState, Role: RoleState, Purpose: "Which dead-letter records were replayed or purged, and when.",
			Key: KeyRecord, Partitions: 1, Cleanup: CleanupCompact,
			Producers: []string{ActorGateway}, Consumers: []string{ActorGateway, ActorOperator},
		},
		Topic{
			Name: AuditTopic, Role: RoleAudit, Purpose: "Every operator action that reveals, replays or purges: who, what, which filter, how many, when.",
			Key: KeyActor, Partitions: 1, Cleanup: CleanupDelete, Retention: 400 * day,
			Payload: reflect.TypeOf(AuditRecord{}), EventType: "ru.egisz.audit.v1",
			Producers: []string{ActorGateway}, Consumers: []string{ActorOperator},
		},
	)
	return c
}

func withExamples(t Topic, ex ...MessageExample) Topic {
	t.Examples = ex
	return t
}

var registryTitle = map[Registry]string{
	RegistryREMD: "РЭМД (registry of electronic medical documents)",
	RegistryIEMK: "ИЭМК (integrated electronic medical record)",
	RegistryERX:  "the prescription registry",
}

// Lookup returns the topic with the given name.
func (c Catalog) Lookup(name string) (Topic, bool) {
	for _, t := range c {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// ByRole returns the topics of one role, in catalog order.
func (c Catalog) ByRole(r Role) Catalog {
	var out Catalog
	for _, t := range c {
		if t.Role == r {
			out = append(out, t)
		}
	}
	return out
}

// Names returns the topic names in catalog order.
func (c Catalog) Names() []string {
	out := make([]string, len(c))
	for i, t := range c {
		out[i] = t.Name
	}
	return out
}

// WithPrefix returns a copy of the catalog whose topic names (and the DLQ
// and status names they refer to) start with prefix. Tests use it to keep
// their data apart on a shared broker; deployments to share one cluster.
func (c Catalog) WithPrefix(prefix string) Catalog {
	if prefix == "" {
		return c
	}
	out := make(Catalog, len(c))
	for i, t := range c {
		t.Name = prefix + t.Name
		if t.DLQ != "" {
			t.DLQ = prefix + t.DLQ
		}
		if t.Status != "" {
			t.Status = prefix + t.Status
		}
		out[i] = t
	}
	return out
}

// sizeProblems checks that the size limits fit together: whatever an
// ingress topic takes fits its dead-letter topic with the dlq.* headers;
// an accepted value of the default limit fits, with its envelope and
// headers, every topic it is written to; and whatever an outbound topic
// takes fits its retry tiers and dead letters with the gateway's headers.
// A record that still does not fit (headers too long) is parked by the
// stages; these rules keep that to records no publisher should send.
func (c Catalog) sizeProblems() []string {
	var problems []string
	outbound := int32(0)
	for _, t := range c.ByRole(RoleOutbound) {
		outbound = max(outbound, t.BatchMaxBytes())
	}
	ingressDLQ := map[string]bool{}
	for _, t := range c.ByRole(RoleIngress) {
		ingressDLQ[t.DLQ] = true
		if d, ok := c.Lookup(t.DLQ); ok && d.BatchMaxBytes() < t.BatchMaxBytes()+HeaderHeadroomBytes {
			problems = append(problems, fmt.Sprintf("%s: max.message.bytes %d cannot hold a record of %s (%d) with the dlq.* headers", d.Name, d.BatchMaxBytes(), t.Name, t.BatchMaxBytes()))
		}
	}
	for _, t := range c {
		switch {
		case t.Role == RoleOutbound || t.Role == RolePharmacy || t.Role == RoleStatus:
			if t.BatchMaxBytes() < DefaultMaxValueBytes+HeaderHeadroomBytes {
				problems = append(problems, fmt.Sprintf("%s: max.message.bytes %d cannot hold an accepted value of %d bytes with its envelope and headers", t.Name, t.BatchMaxBytes(), DefaultMaxValueBytes))
			}
		case t.Role == RoleRetry || (t.Role == RoleDLQ && !ingressDLQ[t.Name]):
			if t.BatchMaxBytes() < outbound+HeaderHeadroomBytes {
				problems = append(problems, fmt.Sprintf("%s: max.message.bytes %d cannot hold an outbound record (%d) with the gateway's headers", t.Name, t.BatchMaxBytes(), outbound))
			}
		}
	}
	return problems
}

// Validate checks the catalog's invariants: unique names, a key and a
// positive partition count on every topic, a payload on every topic whose
// records the gateway decodes, and a DLQ and status path for every ingress
// topic that exist in the catalog. Patient-keyed topics must agree on their
// partition count, or a patient's events and state would part ways. Size
// limits must fit together (sizeProblems).
func (c Catalog) Validate() error {
	var problems []string
	seen := map[string]bool{}
	patientPartitions := int32(-1)
	for _, t := range c {
		if t.Name == "" {
			problems = append(problems, "a topic has no name")
			continue
		}
		if seen[t.Name] {
			problems = append(problems, fmt.Sprintf("%s: declared twice", t.Name))
		}
		seen[t.Name] = true
		if t.Key.Name == "" {
			problems = append(problems, fmt.Sprintf("%s: no key declared", t.Name))
		}
		if t.Partitions < 1 {
			problems = append(problems, fmt.Sprintf("%s: %d partitions", t.Name, t.Partitions))
		}
		if t.Cleanup != CleanupDelete && t.Cleanup != CleanupCompact && t.Cleanup != CleanupCompactDelete {
			problems = append(problems, fmt.Sprintf("%s: unknown cleanup policy %q", t.Name, t.Cleanup))
		}
		if len(t.Producers) == 0 || len(t.Consumers) == 0 {
			problems = append(problems, fmt.Sprintf("%s: producers and consumers must be named", t.Name))
		}
		switch t.Role {
		case RoleIngress, RoleReference, RoleOutbound, RolePharmacy, RoleStatus, RoleAudit:
			if t.Payload == nil {
				problems = append(problems, fmt.Sprintf("%s: %s topic without a payload type", t.Name, t.Role))
			}
		}
		if t.Key == KeyPatient || t.Role == RoleHop {
			if patientPartitions == -1 {
				patientPartitions = t.Partitions
			} else if t.Partitions != patientPartitions {
				problems = append(problems, fmt.Sprintf("%s: %d partitions, other patient-keyed topics have %d", t.Name, t.Partitions, patientPartitions))
			}
		}
	}
	problems = append(problems, c.sizeProblems()...)
	for _, t := range c.ByRole(RoleIngress) {
		if d, ok := c.Lookup(t.DLQ); !ok || d.Role != RoleDLQ {
			problems = append(problems, fmt.Sprintf("%s: dead-letter topic %q is not a DLQ topic of the catalog", t.Name, t.DLQ))
		}
		if s, ok := c.Lookup(t.Status); !ok || s.Role != RoleStatus {
			problems = append(problems, fmt.Sprintf("%s: status topic %q is not a status topic of the catalog", t.Name, t.Status))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("topic catalog: %s", strings.Join(problems, "; "))
	}
	return nil
}
