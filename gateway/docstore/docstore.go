// Package docstore is the document store: each signed СЭМД the normalize
// stage accepts (the CDA file and its detached signatures) kept in a
// compacted Kafka topic under its local_uid, so that РЭМД's
// getDocumentFile can be answered by any instance, after restarts and
// rebalances, without any store but Kafka.
//
// Writing: Document and Encode make the value the normalize stage adds to
// the transaction of the document's outbound record (through
// adapters/normalize's DocumentStore seam, set by cmd), so a document is
// stored exactly when its registration is sent; Record makes a whole
// record of it, Tombstone the record that frees it once РЭМД has
// registered it.
//
// Reading: every instance keeps an index of the whole topic, local_uid →
// (partition, offset), built by reading the topic from its start and
// following it (a reftable over the topic, read_committed), and Get
// fetches the one record the index points at from its partition's leader.
// An index rather than a scan of the key's partition: a scan costs a read
// of the partition (up to weeks of documents, gigabytes) on every request,
// the index costs one read of the topic at start and about a hundred bytes
// of memory per stored document (a million documents: ~100 MB), and a
// request then costs one fetch of one record. The values are not kept in
// memory: a СЭМД is up to a few MiB. An instance that does not own a
// document's partition answers the same way: the index covers every
// partition, and the fetch goes to whichever broker leads it.
package docstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Errors for what Record and Get are given or find.
var (
	// ErrNotFound: no document is stored under the local_uid (never
	// stored, aborted, deleted after registration, or past retention).
	ErrNotFound = errors.New("docstore: document not found")
	// ErrInvalidDocument: a document Record cannot store (no local_uid,
	// no file, a digest that does not match the file, no signature).
	ErrInvalidDocument = errors.New("docstore: invalid document")
	// ErrCorrupt: the stored record does not decode or its file does not
	// match its digest.
	ErrCorrupt = errors.New("docstore: stored document is corrupt")
)

// Document is the stored form of an accepted document event: file (the
// one checked, inline or fetched) and each signer's signature, stored at
// now.
func Document(ev *topics.DocumentEvent, file []byte, now time.Time) topics.StoredDocument {
	sum := sha256.Sum256(file)
	doc := topics.StoredDocument{LocalUID: ev.LocalUID, MediaType: ev.File.MediaType, Data: file, SHA256: hex.EncodeToString(sum[:]), StoredAt: now.UTC()}
	for _, s := range ev.Signers {
		doc.Signatures = append(doc.Signatures, topics.StoredSignature{Role: s.Role, Signature: s.Signature})
	}
	return doc
}

// Encode returns the value that stores doc under its local_uid. It checks
// that the file matches its SHA-256 and that every signer's signature is
// there: a store that took anything would serve it to РЭМД.
func Encode(doc topics.StoredDocument) ([]byte, error) {
	if doc.LocalUID == "" {
		return nil, fmt.Errorf("%w: no local_uid", ErrInvalidDocument)
	}
	if len(doc.Data) == 0 {
		return nil, fmt.Errorf("%w: no file", ErrInvalidDocument)
	}
	if sum := sha256.Sum256(doc.Data); hex.EncodeToString(sum[:]) != doc.SHA256 {
		return nil, fmt.Errorf("%w: the file does not match its sha256", ErrInvalidDocument)
	}
	if len(doc.Signatures) == 0 {
		return nil, fmt.Errorf("%w: no signature", ErrInvalidDocument)
	}
	for i, s := range doc.Signatures {
		if len(s.Signature) == 0 {
			return nil, fmt.Errorf("%w: signature %d (%s) is empty", ErrInvalidDocument, i, s.Role)
		}
	}
	value, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode stored document: %w", err)
	}
	return value, nil
}

// Record returns the record that stores doc in topic under its local_uid
// (Encode).
func Record(topic string, doc topics.StoredDocument) (*kgo.Record, error) {
	value, err := Encode(doc)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: topic, Key: []byte(doc.LocalUID), Value: value}, nil
}

// Tombstone returns the record that deletes the document stored under
// localUID from topic.
func Tombstone(topic, localUID string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(localUID)}
}

// location is where a document's record lies.
type location struct {
	partition int32
	offset    int64
}

// Store reads documents from the store topic on behalf of any instance.
type Store struct {
	topic string
	index *reftable.Table[location]
	opts  []kgo.Opt
	cl    *kgo.Client
	adm   *kadm.Client
}

// New returns a store over topic; opts reach the cluster (seeds, TLS,
// SASL). Run must run for Get to find anything.
func New(topic string, opts []kgo.Opt, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("document store client: %w", err)
	}
	s := &Store{topic: topic, opts: opts, cl: cl, adm: kadm.NewClient(cl)}
	s.index = reftable.NewFromRecords("docstore", topic, func(r *kgo.Record) (string, location, bool) {
		return string(r.Key), location{partition: r.Partition, offset: r.Offset}, len(r.Key) > 0
	}, log)
	return s, nil
}

// Ready is nil once the index has read the topic up to where it stood
// when Run started.
func (s *Store) Ready() error { return s.index.Ready() }

// Collector exposes the index's size and changes
// (egisz_reference_records{table="docstore"} and its changes).
func (s *Store) Collector() prometheus.Collector { return s.index.Collector() }

// Run builds the index and follows the topic until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	return s.index.Run(ctx, s.opts)
}

// Close releases the store's client. Run ends with its context.
func (s *Store) Close() { s.cl.Close() }

// catchUpPoll is how often Get looks at the index's position while it
// waits for it to reach the topic's end: only a document the index does
// not hold yet waits, and only while the index reads what came before.
const catchUpPoll = 10 * time.Millisecond

// Get returns the document stored under localUID, or ErrNotFound. A
// document committed before Get is called is found, whichever instance
// stored it: a key the index lacks makes Get wait until the index has read
// every partition up to its end as it stands now.
func (s *Store) Get(ctx context.Context, localUID string) (topics.StoredDocument, error) {
	loc, ok := s.index.Get(localUID)
	if ok {
		doc, err := s.fetch(ctx, localUID, loc)
		if !errors.Is(err, errMoved) {
			return doc, err
		}
	}
	// Not indexed yet, or indexed at a record compaction removed since:
	// read up to the end and look again.
	if err := s.catchUp(ctx); err != nil {
		return topics.StoredDocument{}, err
	}
	loc, ok = s.index.Get(localUID)
	if !ok {
		return topics.StoredDocument{}, ErrNotFound
	}
	doc, err := s.fetch(ctx, localUID, loc)
	if errors.Is(err, errMoved) {
		// Compaction removed the record the up-to-date index pointed at:
		// only a later record of the key does that, and the index would
		// hold it. Report it rather than loop.
		return topics.StoredDocument{}, fmt.Errorf("get stored document: %w", err)
	}
	return doc, err
}

// markersGrace is how long catchUp waits for a transaction open when it
// listed the ends to be marked committed or aborted. Kafka answers
// EndTxn once the coordinator has logged the decision and writes the
// markers to the partitions just after, so a document whose transaction
// ended a moment ago can still sit above the last stable offset; the
// markers follow within milliseconds. A transaction still open after the
// grace (a producer that stalled) is not waited for: its records are not
// committed yet.
const markersGrace = time.Second

// catchUp waits until the index has read every partition up to its end
// as listed now: the high watermark where the transactions open at the
// listing end within markersGrace, else the last stable offset.
func (s *Store) catchUp(ctx context.Context) error {
	stable, err := kafkaclient.EndOffsets(ctx, s.adm, true, s.topic)
	if err != nil {
		return fmt.Errorf("document store last stable offsets: %w", err)
	}
	high, err := kafkaclient.EndOffsets(ctx, s.adm, false, s.topic)
	if err != nil {
		return fmt.Errorf("document store end offsets: %w", err)
	}
	starts, err := s.adm.ListStartOffsets(ctx, s.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("document store start offsets: %w", err)
	}
	type target struct{ high, stable int64 }
	want := map[int32]target{}
	high.Each(func(o kadm.ListedOffset) {
		start, ok := starts.Lookup(s.topic, o.Partition)
		if o.Offset > 0 && (!ok || start.Offset < o.Offset) {
			tg := target{high: o.Offset, stable: o.Offset}
			if lso, ok := stable.Lookup(s.topic, o.Partition); ok && lso.Offset < o.Offset {
				tg.stable = lso.Offset
			}
			want[o.Partition] = tg
		}
	})
	graceEnd := time.Now().Add(markersGrace)
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		late := time.Now().After(graceEnd)
		for p, tg := range want {
			end := tg.high
			if late {
				end = tg.stable
			}
			if s.index.Position(p) >= end {
				delete(want, p)
			}
		}
		if len(want) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("document store index catching up: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// errMoved: the index pointed at an offset that no longer holds the key.
var errMoved = errors.New("the indexed record is gone from its offset")

// fetch reads the one record at loc from its partition's leader and
// decodes it.
func (s *Store) fetch(ctx context.Context, localUID string, loc location) (topics.StoredDocument, error) {
	var doc topics.StoredDocument
	md, err := s.adm.Metadata(ctx, s.topic)
	if err != nil {
		return doc, fmt.Errorf("document store metadata: %w", err)
	}
	td, ok := md.Topics[s.topic]
	if !ok || td.Err != nil {
		return doc, fmt.Errorf("document store metadata: topic %s: %v", s.topic, td.Err)
	}
	pd, ok := td.Partitions[loc.partition]
	if !ok || pd.Err != nil {
		return doc, fmt.Errorf("document store metadata: partition %d: %v", loc.partition, pd.Err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = topics.DocumentFileRecordBytes
	req.IsolationLevel = 1 // read_committed: an aborted document is no document
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = s.topic
	rt.TopicID = td.ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = loc.partition
	rp.FetchOffset = loc.offset
	rp.PartitionMaxBytes = topics.DocumentFileRecordBytes
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, s.cl.Broker(int(pd.Leader)))
	if err != nil {
		return doc, fmt.Errorf("fetch stored document: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return doc, fmt.Errorf("fetch stored document: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return doc, fmt.Errorf("fetch stored document: the broker answered for %d topics", len(resp.Topics))
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: loc.offset, IsolationLevel: kgo.ReadCommitted(), Topic: s.topic, Partition: loc.partition,
	}, &resp.Topics[0].Partitions[0], kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		if errors.Is(fp.Err, kerr.OffsetOutOfRange) {
			return doc, errMoved // deleted by retention since it was indexed
		}
		return doc, fmt.Errorf("fetch stored document: %w", fp.Err)
	}
	var rec *kgo.Record
	for _, r := range fp.Records {
		if r.Offset == loc.offset {
			rec = r
			break
		}
	}
	if rec == nil || string(rec.Key) != localUID {
		return doc, errMoved
	}
	if rec.Value == nil {
		return doc, ErrNotFound // the index has not read the tombstone yet
	}
	if err := json.Unmarshal(rec.Value, &doc); err != nil {
		return doc, fmt.Errorf("%w: decode: %v", ErrCorrupt, err)
	}
	if sum := sha256.Sum256(doc.Data); hex.EncodeToString(sum[:]) != doc.SHA256 || doc.LocalUID != localUID {
		return topics.StoredDocument{}, fmt.Errorf("%w: the file or key does not match the record", ErrCorrupt)
	}
	return doc, nil
}
