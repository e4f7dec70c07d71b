package main

import (
	"time"

	adnormalize "github.com/egisz-gateway/egisz-gateway/adapters/normalize"
	"github.com/egisz-gateway/egisz-gateway/gateway/docstore"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// documentStore makes the document store's record of each document the
// normalize stage accepts (adapters/normalize's DocumentStore seam): the
// checked file and its signatures under the document's local_uid, written
// to topics.DocumentFileTopic in the transaction of its outbound record.
type documentStore struct{}

// StoreRecord is the Publish of ev's stored document.
func (documentStore) StoreRecord(ev *topics.DocumentEvent, file []byte, now time.Time) (adnormalize.Publish, error) {
	value, err := docstore.Encode(docstore.Document(ev, file, now))
	if err != nil {
		return adnormalize.Publish{}, err
	}
	return adnormalize.Publish{Topic: topics.DocumentFileTopic, Key: ev.LocalUID, Value: value}, nil
}
