package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsfiles"
)

// maxAnswer is how much of an answer is read; registries answer small.
const maxAnswer = 1 << 20

// errUnhealthy marks an answer that counts against the breaker (5xx, 429)
// although it is an answer.
var errUnhealthy = errors.New("registry answered unhealthy")

// retryFailure wraps the failure of a record that is already in a retry
// tier: the breaker ignores it. Those records are the ones known to fail
// (one patient the registry cannot take), and they come back again and
// again; counted, a few such patients would look like an outage and
// pause every other record. Whether the registry is down is for fresh
// traffic to tell.
type retryFailure struct{ err error }

func (r retryFailure) Error() string { return r.err.Error() }
func (r retryFailure) Unwrap() error { return r.err }

// retryCall marks a call's context as a retry tier's.
type retryCall struct{}

func isRetryCall(ctx context.Context) bool { return ctx.Value(retryCall{}) != nil }

// sender makes calls to one registry: retries in place through
// go-retryablehttp, every attempt through the breaker and the rate limit.
type sender struct {
	registry string
	base     string
	dest     Destination
	client   *retryablehttp.Client
	breaker  *gobreaker.CircuitBreaker[*http.Response]
	limiter  *Limiter
	cfg      config.Destination
	m        *Metrics
}

// breakerRefused reports an attempt refused by the open (or probing) breaker.
func breakerRefused(err error) bool {
	return errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}

func newSender(registry string, cfg config.Destination, dest Destination, m *Metrics, onState func(from, to gobreaker.State), log *slog.Logger) (*sender, error) {
	tlsCfg, err := clientTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", registry, err)
	}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsCfg,
		MaxIdleConns:        cfg.Concurrency * 2,
		MaxIdleConnsPerHost: cfg.Concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	s := &sender{registry: registry, base: strings.TrimRight(cfg.URL, "/"), dest: dest, cfg: cfg, m: m,
		limiter: NewLimiter(cfg.RatePerMinute, cfg.Burst)}
	s.breaker = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:         registry,
		MaxRequests:  1, // one probe when half-open
		Interval:     10 * time.Second,
		BucketPeriod: time.Second,
		Timeout:      cfg.BreakerOpen.D(),
		// Open on a run of failures that is also most of the recent
		// traffic, and enough of it: 30% of 503s must not open it, a dead
		// registry must, and one patient's failing records go to the
		// retry tiers instead of stopping everyone.
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.BreakerFailures) && c.TotalFailures*2 >= c.Requests &&
				c.Requests >= uint32(cfg.BreakerMinRequests)
		},
		// A call given up by the gateway (shutdown, rebalance) says nothing about the registry.
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.As(err, new(retryFailure))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			log.Warn("circuit breaker changed state", "registry", registry, "from", from.String(), "to", to.String())
			m.breaker.WithLabelValues(registry).Set(float64(to))
			if onState != nil {
				onState(from, to)
			}
		},
	})
	s.client = &retryablehttp.Client{
		// No client timeout: it would also run while the call waits for a
		// token. The transport times the attempt itself.
		HTTPClient:   &http.Client{Transport: &guardedTransport{s: s, base: base, timeout: cfg.Timeout.D()}},
		RetryWaitMin: cfg.BackoffMin.D(),
		RetryWaitMax: cfg.BackoffMax.D(),
		RetryMax:     cfg.Attempts - 1,
		CheckRetry:   s.checkRetry,
		Backoff:      s.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler, // the last answer, not "giving up after N attempts"
	}
	return s, nil
}

// guardedTransport is one attempt: the breaker first (a refused attempt
// takes no token), then a token, then the network.
type guardedTransport struct {
	s       *sender
	base    http.RoundTripper
	timeout time.Duration // one attempt, from the moment it holds a token
}

func (g *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := g.s
	resp, err := s.breaker.Execute(func() (*http.Response, error) {
		if err := s.limiter.Wait(req.Context()); err != nil {
			return nil, err
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(req.Context(), g.timeout)
		resp, err := g.base.RoundTrip(req.WithContext(ctx))
		s.m.latency.WithLabelValues(s.registry).Observe(time.Since(start).Seconds())
		if err != nil {
			cancel()
			s.m.requests.WithLabelValues(s.registry, "transport_error").Inc()
			if isRetryCall(req.Context()) {
				return nil, retryFailure{err}
			}
			return nil, err
		}
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		s.m.requests.WithLabelValues(s.registry, strconv.Itoa(resp.StatusCode)).Inc()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			if isRetryCall(req.Context()) {
				return resp, retryFailure{errUnhealthy}
			}
			return resp, errUnhealthy
		}
		return resp, nil
	})
	if errors.Is(err, errUnhealthy) {
		return resp, nil
	}
	var rf retryFailure
	if errors.As(err, &rf) {
		err = rf.err // the caller sees the failure as it was
	}
	if breakerRefused(err) {
		s.m.requests.WithLabelValues(s.registry, "breaker_open").Inc()
	}
	return resp, err
}

// cancelOnClose ends an attempt's deadline when its answer is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// checkRetry retries transport errors, 429 and 5xx (not 501), and never a
// refusal by the breaker: that wait belongs to the stage, not to one call.
func (s *sender) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		retry := !breakerRefused(err)
		if retry {
			noteFailure(ctx, func(Call) Outcome { return s.dest.TransportFailure(err) })
		}
		return retry, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented) {
		if l, ok := ctx.Value(attemptKey{}).(*attemptLog); ok {
			// Read the answer now: it is drained once we return.
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
			resp.Body = io.NopCloser(bytes.NewReader(body))
			status, retryAfter := resp.StatusCode, resp.Header.Get("Retry-After")
			l.note(func(c Call) Outcome { return s.dest.Classify(c, status, retryAfter, body) })
		}
		return true, nil
	}
	return false, nil
}

// attemptLog keeps the last failed attempt of a call that is being
// retried in place, so that a call cut short (its batch waits for nothing
// else) still says why it failed, and tells the stage it is failing.
type attemptLog struct {
	call    Call
	onFail  func() // once, at the first failed attempt
	mu      sync.Mutex
	last    *Outcome
	started bool
}

type attemptKey struct{}

func (l *attemptLog) note(outcome func(Call) Outcome) {
	o := outcome(l.call)
	l.mu.Lock()
	l.last = &o
	first := !l.started
	l.started = true
	l.mu.Unlock()
	if first && l.onFail != nil {
		l.onFail()
	}
}

func (l *attemptLog) lastFailure() (Outcome, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		return Outcome{}, false
	}
	return *l.last, true
}

func noteFailure(ctx context.Context, outcome func(Call) Outcome) {
	if l, ok := ctx.Value(attemptKey{}).(*attemptLog); ok {
		l.note(outcome)
	}
}

// backoff is capped exponential backoff with full jitter over its upper
// half; a Retry-After on a 429 or 503 wins, capped by retry_after_max,
// because go-retryablehttp honours it uncapped
// (hashicorp/go-retryablehttp#247) and a registry saying "come back in a
// day" must not stall a partition for a day.
func (s *sender) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
			return min(ra, s.cfg.RetryAfterMax.D())
		}
	}
	return jittered(minWait, maxWait, attempt)
}

func jittered(minWait, maxWait time.Duration, attempt int) time.Duration {
	d := minWait << min(attempt, 30)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// send makes one call, with its retries in place, and classifies the
// answer. breakerOpen is true when the breaker refused it.
func (s *sender) send(ctx context.Context, call Call) (out Outcome, breakerOpen bool) {
	req, err := retryablehttp.NewRequestWithContext(ctx, call.Method, s.base+call.Path, call.Body)
	if err != nil {
		return s.dest.TransportFailure(err), false
	}
	if call.Body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return s.dest.TransportFailure(err), breakerRefused(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return s.dest.TransportFailure(fmt.Errorf("read answer: %w", err)), false
	}
	return s.dest.Classify(call, resp.StatusCode, resp.Header.Get("Retry-After"), body), false
}

// maxHeaderValue bounds a header value the gateway sends: the idempotency
// key is the source's ce_id, and registries' front ends refuse long ones.
const maxHeaderValue = 256

// sendable checks what of call the HTTP client would refuse to send: a
// header value with control characters (a CR/LF in a ce_id), an oversized
// one, a path that is not a URL path.
func sendable(call Call) error {
	if len(call.IdempotencyKey) > maxHeaderValue {
		return fmt.Errorf("the idempotency key (ce_id) is %d bytes, over %d", len(call.IdempotencyKey), maxHeaderValue)
	}
	if i := strings.IndexFunc(call.IdempotencyKey, isCTL); i >= 0 {
		return fmt.Errorf("the idempotency key (ce_id) holds a control character (%U) at byte %d", call.IdempotencyKey[i], i)
	}
	if i := strings.IndexFunc(call.Path, func(r rune) bool { return isCTL(r) || r == ' ' }); i >= 0 {
		return fmt.Errorf("the request path holds a space or control character at byte %d", i)
	}
	return nil
}

// isCTL reports a character no HTTP header value may hold (RFC 9110
// §5.5): controls other than horizontal tab, and DEL.
func isCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// open reports whether the breaker refuses calls now.
func (s *sender) open() bool { return s.breaker.State() == gobreaker.StateOpen }

// clientTLS is the registry's TLS setting; nil (Go's defaults) when it
// sets nothing.
func clientTLS(c config.ClientTLS) (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.ServerName == "" {
		return nil, nil
	}
	return tlsfiles.Client{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName}.Config("tls")
}
