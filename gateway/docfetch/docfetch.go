// Package docfetch fetches a document's file from the reference a MIS
// gives for a file too large to travel inline (topics.Attachment.Ref):
// over https only, within a timeout, never reading more than the declared
// size or the hard cap, and checked against the declared SHA-256.
//
// Its errors say what kind of failure it was (FetchFailure, the seam's
// type; the domain names the reason): the file too large, its digest
// wrong, or the fetch failed (retryable by replaying the parked event).
// They never hold the file's contents, and name the server by host only.
package docfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// DefaultTimeout bounds one fetch, connection to last byte, when Config
// sets none: a few MiB from a MIS on a slow regional link. The normalize
// stage fetches inside its transaction (20 s), so it must stay well under.
const DefaultTimeout = 5 * time.Second

// DefaultHostCooldown is how long, when Config sets none, a host whose
// fetch failed without an answer (a timeout, a refused or reset
// connection, TLS) is not asked again: the other documents of a batch
// pointing at a MIS that is down fail at once instead of each waiting out
// the timeout inside the stage's transaction. They are parked
// DOCUMENT_FETCH_FAILED, to be replayed.
const DefaultHostCooldown = 30 * time.Second

// Config configures a Fetcher.
type Config struct {
	// Client makes the requests; its own Timeout is not relied on. Nil:
	// a client with the system's roots. Tests pass httptest's TLS client.
	Client *http.Client
	// Timeout bounds one fetch; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxBytes is the hard cap whatever the declared size;
	// topics.DocumentFetchMaxBytes when zero.
	MaxBytes int64
	// HostCooldown is how long a host that did not answer is not asked
	// again; DefaultHostCooldown when zero, none when negative.
	HostCooldown time.Duration
	// Now is the clock of the cooldowns; time.Now when nil.
	Now func() time.Time
}

// Fetcher fetches documents by reference. It is safe for concurrent use.
type Fetcher struct {
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
	cooldown time.Duration
	now      func() time.Time

	mu   sync.Mutex
	down map[string]time.Time // host → until when it is not asked
}

// Error is a failed fetch, with what kind of failure it is (the domain
// names the reason).
type Error struct {
	Code seam.FetchFailure
	Msg  string // what went wrong, without the file's contents
	Err  error  // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// FetchFailure is what kind of failure it is; the domain names the reason.
func (e *Error) FetchFailure() seam.FetchFailure { return e.Code }

// New returns a fetcher.
func New(cfg Config) *Fetcher {
	f := &Fetcher{client: cfg.Client, timeout: cfg.Timeout, maxBytes: cfg.MaxBytes}
	if f.client == nil {
		f.client = &http.Client{}
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.maxBytes <= 0 {
		f.maxBytes = topics.DocumentFetchMaxBytes
	}
	f.cooldown, f.now, f.down = cfg.HostCooldown, cfg.Now, map[string]time.Time{}
	if f.cooldown == 0 {
		f.cooldown = DefaultHostCooldown
	}
	if f.now == nil {
		f.now = time.Now
	}
	// A redirect must stay on https: the reference's scheme is checked
	// once here, and a server must not lead the fetch elsewhere.
	c := *f.client
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s refused: https only", req.URL.Scheme)
		}
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	f.client = &c
	return f
}

// Fetch gets the file at ref, which must be an https URL, and checks that
// it is size bytes long with the SHA-256 sha256Hex (lower-case hex).
func (f *Fetcher) Fetch(ctx context.Context, ref string, size int64, sha256Hex string) ([]byte, error) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, &Error{Code: seam.FetchFailed, Msg: "fetch document: the reference is not an https URL"}
	}
	want, err := hex.DecodeString(sha256Hex)
	if err != nil || len(want) != sha256.Size {
		return nil, &Error{Code: seam.FetchDigestMismatch, Msg: "fetch document: the declared sha256 is not 64 hex digits"}
	}
	if size > f.maxBytes {
		return nil, &Error{Code: seam.FetchTooLarge, Msg: fmt.Sprintf("fetch document: declared size %d is over the cap of %d bytes", size, f.maxBytes)}
	}
	if size <= 0 {
		return nil, &Error{Code: seam.FetchDigestMismatch, Msg: "fetch document: the declared size must be positive"}
	}

	if until, ok := f.isDown(u.Host); ok {
		return nil, &Error{Code: seam.FetchFailed, Msg: fmt.Sprintf("fetch document from %s: it did not answer a moment ago; not asked again before %s", u.Host, until.UTC().Format(time.RFC3339))}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Code: seam.FetchFailed, Msg: "fetch document: build request", Err: err}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			f.markDown(u.Host) // no answer, and not the caller giving up
		}
		return nil, &Error{Code: seam.FetchFailed, Msg: "fetch document from " + u.Host, Err: scrub(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Code: seam.FetchFailed, Msg: fmt.Sprintf("fetch document from %s: HTTP %d", u.Host, resp.StatusCode)}
	}
	if resp.ContentLength > size {
		return nil, &Error{Code: seam.FetchTooLarge, Msg: fmt.Sprintf("fetch document from %s: Content-Length %d is over the declared size %d", u.Host, resp.ContentLength, size)}
	}
	// Read one byte past the declared size to tell "larger" from "exactly
	// that", and no further.
	body, err := io.ReadAll(io.LimitReader(resp.Body, size+1))
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			f.markDown(u.Host)
		}
		return nil, &Error{Code: seam.FetchFailed, Msg: "fetch document from " + u.Host + ": read", Err: scrub(err)}
	}
	switch n := int64(len(body)); {
	case n > size:
		return nil, &Error{Code: seam.FetchTooLarge, Msg: fmt.Sprintf("fetch document from %s: more than the declared %d bytes", u.Host, size)}
	case n < size:
		return nil, &Error{Code: seam.FetchDigestMismatch, Msg: fmt.Sprintf("fetch document from %s: %d bytes, declared %d", u.Host, n, size)}
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], want) {
		return nil, &Error{Code: seam.FetchDigestMismatch, Msg: "fetch document from " + u.Host + ": SHA-256 differs from the declared one"}
	}
	return body, nil
}

// isDown reports whether host is cooling down after a fetch it did not
// answer, and until when.
func (f *Fetcher) isDown(host string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.down[host]
	if ok && !f.now().Before(until) {
		delete(f.down, host)
		return time.Time{}, false
	}
	return until, ok
}

// maxDownHosts bounds the hosts kept cooling down; past it the ones whose
// cooldown is over are dropped (events name hosts, so their number is the
// publishers' to choose).
const maxDownHosts = 1024

// markDown starts host's cooldown.
func (f *Fetcher) markDown(host string) {
	if f.cooldown < 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if len(f.down) >= maxDownHosts {
		for h, until := range f.down {
			if !now.Before(until) {
				delete(f.down, h)
			}
		}
	}
	if len(f.down) < maxDownHosts {
		f.down[host] = now.Add(f.cooldown)
	}
}

// scrub drops the URL (its path and query may name a patient's document)
// from a client error, keeping what went wrong.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
