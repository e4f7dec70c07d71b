package topics

import "time"

// DocumentFileTopic is the document store: every signed СЭМД the normalize
// stage accepted, kept until РЭМД has fetched and registered it
// (getDocumentFile is answered from it) and as long as a replay from a
// dead-letter topic may send it again.
const DocumentFileTopic = "egisz.document.file.v1"

// KeyLocalUID keys the document store.
var KeyLocalUID = Key{"local-uid", "The document's local_uid (the MIS's RFC 4122 UUID of the version): the id getDocumentFile asks for."}

// DocumentFileRecordBytes is max.message.bytes of the document store. A
// stored document is JSON: the file in base64 (4/3 of its size) and one
// CMS container per signer (a few KiB each, certificate included). 16 MiB
// holds a file of up to 11 MiB that way, more than the few MiB a СЭМД
// reaches, with room for its signatures.
const DocumentFileRecordBytes = 2 * LargeRecordBytes

// DocumentFileRetention is retention.ms of the document store, whose
// cleanup.policy is compact,delete. Compaction keeps one record per
// local_uid, and a tombstone may delete a document's record once РЭМД has
// registered it. The time limit bounds what nobody deletes: a document whose outbound record waited in
// the outbound topic and its retry tiers (at most their retention, a week)
// and then in РЭМД's dead-letter topic (30 days) can still be replayed and
// fetched by РЭМД; after that nothing can send it again.
//
// A tombstone stays for Kafka's default delete.retention.ms (a day): long
// enough for every instance's index, which follows the topic, to see it; an
// index that starts later reads the whole topic and never learns the key.
const DocumentFileRetention = 30*day + week

// StoredDocument is the value of the document store: the signed СЭМД as
// the MIS sent it, the file and its detached signatures.
type StoredDocument struct {
	LocalUID   string            `json:"local_uid" doc:"the document's local_uid, the record's key"`
	MediaType  string            `json:"media_type" example:"text/xml"`
	Data       []byte            `json:"data" doc:"the CDA file, base64"`
	SHA256     string            `json:"sha256" doc:"SHA-256 of data, hex" pattern:"^[0-9a-f]{64}$"`
	Signatures []StoredSignature `json:"signatures" doc:"one detached CMS SignedData per signer, over data"`
	StoredAt   time.Time         `json:"stored_at" doc:"when the normalize stage stored it"`
}

// StoredSignature is one signer's detached CMS SignedData over the file.
type StoredSignature struct {
	Role      string `json:"role" enum:"doctor,head,organization"`
	Signature []byte `json:"signature" doc:"DER CMS SignedData, base64"`
}
