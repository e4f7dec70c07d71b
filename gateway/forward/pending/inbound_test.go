package pending

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/docstore"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// outboundRecord is the outbound record of document ceID on partition 0.
func outboundRecord(p *Pending, ceID string) *kgo.Record {
	return &kgo.Record{Topic: p.cfg.Outbound, Partition: 0, Key: []byte("patient"), Value: []byte("{}"),
		Headers: []kgo.RecordHeader{{Key: topics.HeaderID, Value: []byte(ceID)}}}
}

// writePending writes ceID's pending entry to the topic, as the forward
// stage does, and waits until the table has read it back.
func writePending(t *testing.T, ctx context.Context, p *Pending, ceID string) {
	t.Helper()
	e := Entry{State: StatePending, Partition: 0, SentAt: time.Now(), Record: Store(outboundRecord(p, ceID))}
	if err := p.cfg.Writer.Write(ctx, []*kgo.Record{p.entryRecord(ceID, &e)}); err != nil {
		t.Fatal(err)
	}
	for e, ok := p.table.Get(ceID); !ok || e.State != StatePending; e, ok = p.table.Get(ceID) {
		if ctx.Err() != nil {
			t.Fatalf("%s never became pending", ceID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A callback that names only the call it answers (relatesToMessage, the
// MessageID of the document's calls: seam.MessageID of its ce_id) settles
// its document like one naming the ce_id: found through the table's
// index when the document is known; kept as an orphan under the MessageID
// when it came first, and settled when the document's entry appears,
// read from the pending topic or written by the forward stage.
func TestACallbackFindsItsDocumentByTheMessageIDItAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		early bool // the callback comes before the entry
		// accepted: the forward stage's Accepted meets the orphan (the
		// entry is not written by hand).
		accepted bool
	}{
		{name: "pending when the callback comes"},
		{name: "the callback first, the entry read later", early: true},
		{name: "the callback first, then the forward stage accepts the document", early: true, accepted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx, cat := pendingCluster(t)
			p, stage := newTestPending(t, c, cat,
				config.Callback{Wait: config.Duration(100 * time.Millisecond), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
				slog.New(slog.DiscardHandler))
			run(t, ctx, p)
			own(t, ctx, p, stage, 0)
			url, client := serveCallback(t, p)
			const ceID, emdrID = "d-by-message", "16.62.26.11.000000042"
			msgID := seam.MessageID(ceID, 0)
			if !tc.early {
				writePending(t, ctx, p, ceID)
			}
			resp, err := client(callerRegistry).Post(url, "application/soap+xml",
				strings.NewReader(fmt.Sprintf(`{"message_id":"urn:uuid:cb-1","relates_to":%q,"status":"success","emdr_id":%q}`, msgID, emdrID)))
			if err != nil {
				t.Fatal(err)
			}
			var ans testAnswer
			_ = json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || ans.RelatesTo != "urn:uuid:cb-1" {
				t.Fatalf("answered %d relating to %q, want 200 with the adapter's answer to urn:uuid:cb-1", resp.StatusCode, ans.RelatesTo)
			}
			if tc.early {
				if e, ok := p.table.Get(OrphanKey(msgID)); !ok || e.State != StateOrphan {
					t.Fatalf("the early callback is not kept under its MessageID: %+v", e)
				}
				if tc.accepted {
					if !p.Accepted(&eos.Output{}, outboundRecord(p, ceID), time.Now()) {
						t.Fatal("the forward stage's Accepted did not settle the document with its early callback")
					}
					stage.mu.Lock()
					defer stage.mu.Unlock()
					if len(stage.settled) != 1 || stage.settled[0].Action != Register || stage.settled[0].Entry.RegistryID != emdrID {
						t.Fatalf("settled %+v, want the document registered as %s", stage.settled, emdrID)
					}
					return
				}
				writePending(t, ctx, p, ceID)
			}
			for e, _ := p.table.Get(ceID); e == nil || e.State != StateRegistered; e, _ = p.table.Get(ceID) {
				if ctx.Err() != nil {
					t.Fatalf("the document is %+v, want registered", e)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if e, _ := p.table.Get(ceID); e.RegistryID != emdrID {
				t.Fatalf("registered as %q, want %q", e.RegistryID, emdrID)
			}
			for n, _ := p.orphans.Use(); n != 0; n, _ = p.orphans.Use() {
				if ctx.Err() != nil {
					t.Fatal("the orphan was never forgotten once it settled its document")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := testutil.ToFloat64(p.m.callbacks.WithLabelValues("registered")) + testutil.ToFloat64(p.m.callbacks.WithLabelValues("orphan_settled")); got != 1 {
				t.Errorf("%v settlements counted, want 1", got)
			}
		})
	}
}

// storedDocument is a document as the normalize stage stores it.
func storedDocument(uid string) topics.StoredDocument {
	data := []byte(fmt.Sprintf(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="%s"/></ClinicalDocument>`, uid))
	sum := sha256.Sum256(data)
	return topics.StoredDocument{LocalUID: uid, MediaType: "text/xml", Data: data, SHA256: hex.EncodeToString(sum[:]),
		Signatures: []topics.StoredSignature{{Role: "doctor", Signature: []byte("cms")}}, StoredAt: time.Now().UTC()}
}

// failingDocuments is a document store that fails.
type failingDocuments struct{}

func (failingDocuments) Get(context.Context, string) (topics.StoredDocument, error) {
	return topics.StoredDocument{}, fmt.Errorf("document store end offsets: %w", context.DeadlineExceeded)
}

// A file request is answered from the document store, whichever
// instance's: a stored document is served (its file, as stored), one not
// held is answered as not found, a store that fails with 503 so that the
// registry asks again; each counted. An unauthenticated request is
// refused and served nothing.
func TestFileRequestsAreServedFromTheDocumentStore(t *testing.T) {
	c, ctx, cat := pendingCluster(t)
	topic := c.Prefix + topics.DocumentFileTopic
	row, _ := cat.Lookup(topic)
	if _, err := c.Admin(t).CreateTopic(ctx, row.Partitions, -1, topics.TopicConfigs(row), topic); err != nil {
		t.Fatal(err)
	}
	held := storedDocument("5b1c6a0e-6f0d-4c43-9d0f-2a7e5b1c9d11")
	rec, err := docstore.Record(topic, held)
	if err != nil {
		t.Fatal(err)
	}
	producer := c.Client(t, kgo.ProducerBatchMaxBytes(topics.DocumentFileRecordBytes))
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	store, err := docstore.New(topic, []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	storeCtx, stopStore := context.WithCancel(ctx)
	storeDone := make(chan struct{})
	go func() { defer close(storeDone); _ = store.Run(storeCtx) }()
	t.Cleanup(func() { stopStore(); <-storeDone; store.Close() })

	p, _ := newTestPending(t, c, cat,
		config.Callback{Wait: config.Duration(100 * time.Millisecond), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
		slog.New(slog.DiscardHandler))
	p.cfg.Documents = store
	run(t, ctx, p)
	url, client := serveCallback(t, p)

	for _, tc := range []struct {
		name    string
		body    string
		docs    Documents
		status  int
		found   bool
		outcome string // counted; empty: not a file request counted
	}{
		{"a stored document", `{"kind":"file","message_id":"urn:uuid:f-1","local_uid":"` + held.LocalUID + `"}`, store, http.StatusOK, true, fileServed},
		{"a document not held", `{"kind":"file","message_id":"urn:uuid:f-2","local_uid":"00000000-0000-4000-8000-000000000000"}`, store, http.StatusOK, false, fileNotFound},
		{"the store fails", `{"kind":"file","message_id":"urn:uuid:f-3","local_uid":"` + held.LocalUID + `"}`, failingDocuments{}, http.StatusServiceUnavailable, false, fileError},
		{"no store", `{"kind":"file","message_id":"urn:uuid:f-4","local_uid":"` + held.LocalUID + `"}`, nil, http.StatusServiceUnavailable, false, fileError},
		{"an unsigned request", `{"auth":"unsigned","kind":"file","local_uid":"` + held.LocalUID + `"}`, store, http.StatusForbidden, false, ""},
		{"a replayed request", `{"auth":"replayed","kind":"file","local_uid":"` + held.LocalUID + `"}`, store, http.StatusForbidden, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.cfg.Documents = tc.docs
			before := map[string]float64{}
			for _, o := range []string{fileServed, fileNotFound, fileError} {
				before[o] = testutil.ToFloat64(p.m.files.WithLabelValues(o))
			}
			resp, err := client(callerRegistry).Post(url, "application/soap+xml", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("answered %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusOK {
				var ans testAnswer
				if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
					t.Fatal(err)
				}
				if ans.Found != tc.found {
					t.Fatalf("answered found=%v, want %v", ans.Found, tc.found)
				}
				if tc.found && (!bytes.Equal(ans.Data, held.Data) || ans.MediaType != held.MediaType || ans.LocalUID != held.LocalUID) {
					t.Fatalf("served another file: %+v", ans)
				}
			}
			for _, o := range []string{fileServed, fileNotFound, fileError} {
				want := before[o]
				if o == tc.outcome {
					want++
				}
				if got := testutil.ToFloat64(p.m.files.WithLabelValues(o)); got != want {
					t.Errorf("file_requests{outcome=%s} = %v, want %v", o, got, want)
				}
			}
		})
	}
	for _, reason := range []string{"unsigned", "replayed"} {
		if got := testutil.ToFloat64(p.m.refused.WithLabelValues(reason)); got != 1 {
			t.Errorf("refused{reason=%s} = %v, want 1", reason, got)
		}
	}
}

// Each sending of a document has its own MessageID (seam.MessageID with
// the re-sends so far), and a callback settles only the sending it
// answers: a repeated or late result of a sending that asked for a
// re-send changes nothing (it once overwrote the new sending's entry with
// the old one's, and the document was never settled), and the new
// sending's result waits for its entry when it overtakes it.
func TestACallbackSettlesOnlyTheSendingItAnswers(t *testing.T) {
	c, ctx, cat := pendingCluster(t)
	// A re-send goes back to the outbound topic.
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, c.Prefix+topics.Outbound(topics.RegistryREMD)); err != nil {
		t.Fatal(err)
	}
	p, stage := newTestPending(t, c, cat,
		config.Callback{Wait: config.Duration(5 * time.Second), ReconcileAfter: config.Duration(time.Hour), KeepDone: config.Duration(time.Hour)},
		slog.New(slog.DiscardHandler))
	run(t, ctx, p)
	own(t, ctx, p, stage, 0)
	url, client := serveCallback(t, p)
	const ceID = "d-sent-again"
	callback := func(n int, send int, status, emdrID string) {
		t.Helper()
		resp, err := client(callerRegistry).Post(url, "application/soap+xml", strings.NewReader(fmt.Sprintf(
			`{"message_id":"urn:uuid:cb-%d","relates_to":%q,"status":%q,"emdr_id":%q}`, n, seam.MessageID(ceID, send), status, emdrID)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback %d answered %d (%s), want 200", n, resp.StatusCode, b)
		}
	}
	// sending writes the pending entry of the document's sending with
	// resends re-sends before it, as the forward stage does once РЭМД
	// accepted it.
	sending := func(resends int) {
		t.Helper()
		r := outboundRecord(p, ceID)
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderResends, Value: fmt.Appendf(nil, "%d", resends)})
		e := Entry{State: StatePending, Partition: 0, SentAt: time.Now(), Resends: resends, Record: Store(r)}
		if err := p.cfg.Writer.Write(ctx, []*kgo.Record{p.entryRecord(ceID, &e)}); err != nil {
			t.Error(err)
		}
	}
	entry := func() *Entry {
		e, _ := p.table.Get(ceID)
		return e
	}
	waitFor := func(what string, ok func(e *Entry) bool) {
		t.Helper()
		for e := entry(); e == nil || !ok(e); e = entry() {
			if ctx.Err() != nil {
				t.Fatalf("%s: the entry is %+v", what, e)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	sending(0)
	waitFor("the first sending pending", func(e *Entry) bool { return e.State == StatePending })
	callback(1, 0, "retry", "")
	waitFor("sent again", func(e *Entry) bool { return e.State == StateResent })

	// The first sending's result again (РЭМД repeats a result it is not
	// sure arrived), and the second sending's result before its entry:
	// the first changes nothing, the second waits for its entry.
	callback(2, 0, "retry", "")
	go func() {
		time.Sleep(300 * time.Millisecond)
		sending(1)
	}()
	callback(3, 1, "success", "16.62.26.11.000000007")
	waitFor("registered", func(e *Entry) bool { return e.State == StateRegistered })
	if e := entry(); e.RegistryID != "16.62.26.11.000000007" || e.Resends != 1 {
		t.Fatalf("entry %+v, want the second sending registered", e)
	}
	// A late result of the first sending: stale, the registration stands.
	callback(4, 0, "error", "")
	time.Sleep(100 * time.Millisecond)
	stage.mu.Lock()
	defer stage.mu.Unlock()
	var actions []Action
	for _, st := range stage.settled {
		actions = append(actions, st.Action)
	}
	if len(actions) != 1 || actions[0] != Register {
		t.Fatalf("the stage settled %v, want one registration", actions)
	}
	if e := entry(); e.State != StateRegistered {
		t.Fatalf("entry %+v after a stale callback, want registered", e)
	}
	if got := testutil.ToFloat64(p.m.callbacks.WithLabelValues(string(Stale))); got != 1 {
		t.Errorf("stale callbacks counted %v, want 1", got)
	}
}
