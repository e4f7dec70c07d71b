package docfetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/docfetch"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFetch(t *testing.T) {
	doc := []byte(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	other := bytes.ToUpper(doc)
	var streamed atomic.Int64 // bytes the endless handler got written
	mux := http.NewServeMux()
	mux.HandleFunc("/doc.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) })
	mux.HandleFunc("/other.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(other) })
	mux.HandleFunc("/short.xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc[:10]) })
	mux.HandleFunc("/missing.xml", http.NotFound)
	mux.HandleFunc("/slow.xml", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc[:10])
		w.(http.Flusher).Flush()
		time.Sleep(1500 * time.Millisecond) // past the fetch's timeout, whatever the connection does
		_, _ = w.Write(doc[10:])
	})
	mux.HandleFunc("/huge-declared.xml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(60<<20))
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("/endless.xml", func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("<a/>"), 16<<10)
		for streamed.Load() < 60<<20 {
			n, err := w.Write(chunk)
			streamed.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/doc.xml", http.StatusFound)
	})
	mux.HandleFunc("/to-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/doc.xml", http.StatusFound)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	// No cooldown: the cases share one server, and "too slow" would make
	// it cool down for the rest (TestHostCooldown tests that).
	f := docfetch.New(docfetch.Config{Client: srv.Client(), Timeout: 500 * time.Millisecond, MaxBytes: 1 << 20, HostCooldown: -1})

	tests := []struct {
		name     string
		ref      string
		size     int64
		sum      string
		wantCode seam.FetchFailure // "" for success
	}{
		{"the declared file", srv.URL + "/doc.xml", int64(len(doc)), hexSum(doc), ""},
		{"through an https redirect", srv.URL + "/to-https", int64(len(doc)), hexSum(doc), ""},
		{"another file of the same size", srv.URL + "/other.xml", int64(len(doc)), hexSum(doc), seam.FetchDigestMismatch},
		{"shorter than declared", srv.URL + "/short.xml", int64(len(doc)), hexSum(doc), seam.FetchDigestMismatch},
		{"longer than declared", srv.URL + "/doc.xml", int64(len(doc)) - 1, hexSum(doc[:len(doc)-1]), seam.FetchTooLarge},
		{"declared over the cap", srv.URL + "/doc.xml", 1<<20 + 1, hexSum(doc), seam.FetchTooLarge},
		{"Content-Length over the declared size", srv.URL + "/huge-declared.xml", int64(len(doc)), hexSum(doc), seam.FetchTooLarge},
		{"endless body", srv.URL + "/endless.xml", 1 << 20, hexSum(doc), seam.FetchTooLarge},
		{"not found", srv.URL + "/missing.xml", int64(len(doc)), hexSum(doc), seam.FetchFailed},
		{"too slow", srv.URL + "/slow.xml", int64(len(doc)), hexSum(doc), seam.FetchFailed},
		{"plain http", "http" + strings.TrimPrefix(srv.URL, "https") + "/doc.xml", int64(len(doc)), hexSum(doc), seam.FetchFailed},
		{"redirect to plain http", srv.URL + "/to-http", int64(len(doc)), hexSum(doc), seam.FetchFailed},
		{"sha256 not hex", srv.URL + "/doc.xml", int64(len(doc)), "xyz", seam.FetchDigestMismatch},
		{"no size", srv.URL + "/doc.xml", 0, hexSum(doc), seam.FetchDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Fetch(context.Background(), tt.ref, tt.size, tt.sum)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if !bytes.Equal(got, doc) {
					t.Fatalf("Fetch returned %d bytes, not the document", len(got))
				}
				return
			}
			var fe *docfetch.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Fetch error %v, want a *docfetch.Error with %s", err, tt.wantCode)
			}
			if fe.FetchFailure() != tt.wantCode {
				t.Fatalf("Fetch error %q has code %s, want %s", err, fe.FetchFailure(), tt.wantCode)
			}
			if got != nil {
				t.Errorf("Fetch returned %d bytes with an error", len(got))
			}
			// Neither the contents nor the path (which may name the
			// document) belong in an error that ends up in logs.
			if strings.Contains(err.Error(), "ClinicalDocument") || strings.Contains(err.Error(), ".xml") {
				t.Errorf("error text leaks the document or its path: %q", err)
			}
		})
	}
	// The endless body was not read to its end: the fetch stopped one byte
	// past the declared size, leaving what the sockets buffer.
	if n := streamed.Load(); n >= 60<<20 {
		t.Errorf("the server wrote %d bytes of the endless body: the fetch read on past the cap", n)
	}
}

// A cancelled context ends a fetch at once, as a failure a replay can cure.
func TestFetchCancelled(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := docfetch.New(docfetch.Config{Client: srv.Client()}).Fetch(ctx, srv.URL+"/x", 10, strings.Repeat("0", 64))
	var fe *docfetch.Error
	if !errors.As(err, &fe) || fe.FetchFailure() != seam.FetchFailed || !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a cancelled context: %v, want DOCUMENT_FETCH_FAILED wrapping context.Canceled", err)
	}
}

// A host that did not answer is not asked again until its cooldown is
// over: the next documents pointing at it fail at once. One that answered,
// even with an error status, is asked again.
func TestHostCooldown(t *testing.T) {
	doc := []byte("<ClinicalDocument/>")
	var calls atomic.Int32
	stall := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/stall.xml":
			select {
			case <-stall:
			case <-r.Context().Done():
			}
		case "/missing.xml":
			http.NotFound(w, r)
		default:
			_, _ = w.Write(doc)
		}
	}))
	defer srv.Close()
	defer close(stall)
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f := docfetch.New(docfetch.Config{Client: srv.Client(), Timeout: 200 * time.Millisecond, HostCooldown: time.Minute, Now: func() time.Time { return clock }})
	fetch := func(path string) error {
		_, err := f.Fetch(context.Background(), srv.URL+path, int64(len(doc)), hexSum(doc))
		return err
	}
	if err := fetch("/missing.xml"); err == nil {
		t.Fatal("fetched a missing file")
	}
	if err := fetch("/doc.xml"); err != nil {
		t.Fatalf("after an HTTP 404 the host is not asked again: %v", err)
	}
	if err := fetch("/stall.xml"); err == nil {
		t.Fatal("a stalled fetch did not time out")
	}
	before := calls.Load()
	start := time.Now()
	err := fetch("/doc.xml")
	var fe *docfetch.Error
	if !errors.As(err, &fe) || fe.FetchFailure() != seam.FetchFailed || calls.Load() != before || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("during the cooldown: %v after %s, %d calls more; want DOCUMENT_FETCH_FAILED at once and no call", err, time.Since(start), calls.Load()-before)
	}
	clock = clock.Add(time.Minute)
	if err := fetch("/doc.xml"); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
}
