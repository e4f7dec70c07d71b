package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// storeDocument is the document store's record (topics.DocumentFileTopic,
// read by gateway/docstore) of an accepted document: its file, inline or
// fetched, and its signers' signatures under its local_uid. The stage
// writes it in the transaction of the document's outbound record, so every
// document sent to РЭМД can be served to РЭМД's getDocumentFile, by any
// instance, and none that was not sent is. false when there is no file to
// store (given by reference and not fetched: documents are not checked).
func storeDocument(p *topics.DocumentEvent, file []byte, now time.Time) (Publish, bool) {
	if len(file) == 0 {
		return Publish{}, false
	}
	sum := sha256.Sum256(file)
	doc := topics.StoredDocument{LocalUID: p.LocalUID, MediaType: p.File.MediaType, Data: file, SHA256: hex.EncodeToString(sum[:]), StoredAt: now.UTC()}
	for _, s := range p.Signers {
		doc.Signatures = append(doc.Signatures, topics.StoredSignature{Role: s.Role, Signature: s.Signature})
	}
	value, err := json.Marshal(doc)
	if err != nil {
		return Publish{}, false // a struct of strings and bytes always encodes
	}
	return Publish{Topic: topics.DocumentFileTopic, Key: p.LocalUID, Value: value}, true
}
