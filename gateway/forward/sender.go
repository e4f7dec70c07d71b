package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsfiles"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// maxAnswer is how much of an answer is read; registries answer small.
const maxAnswer = 1 << 20

// sender makes calls to one registry: each attempt through the breaker
// and the rate limit, the attempts in place spaced by the RetryPolicy.
// go-retryablehttp is the HTTP client with its own retries off
// (RetryMax 0), so that the policy is the one retry loop.
type sender struct {
	registry string
	base     string
	dest     Destination
	client   *retryablehttp.Client
	breaker  *breaker
	limiter  *Limiter
	policy   RetryPolicy
	timeout  time.Duration // one attempt, from the moment it holds a token
	m        *Metrics
}

// answer is what one attempt got back, read.
type answer struct {
	status     int
	retryAfter string
	body       []byte
	readErr    error // the body could not be read whole
}

// unhealthy answers (5xx, 429) count against the breaker.
func (a answer) unhealthy() bool {
	return a.status >= 500 || a.status == http.StatusTooManyRequests
}

// again reports an answer worth another attempt in place: 429 and 5xx
// other than 501.
func (a answer) again() bool {
	return a.status == http.StatusTooManyRequests || (a.status >= 500 && a.status != http.StatusNotImplemented)
}

// advice is the registry's Retry-After, on a 429 or 503 only: on other
// answers it is not advice about when to come back.
func (a answer) advice(now time.Time) time.Duration {
	if a.status != http.StatusTooManyRequests && a.status != http.StatusServiceUnavailable {
		return 0
	}
	return seam.ParseRetryAfter(a.retryAfter, now)
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
	return &sender{registry: registry, base: strings.TrimRight(cfg.URL, "/"), dest: dest, m: m,
		breaker: newBreaker(registry, cfg, m, onState, log),
		limiter: NewLimiter(cfg.RatePerMinute, cfg.Burst),
		policy:  NewRetryPolicy(cfg),
		timeout: cfg.Timeout.D(),
		client: &retryablehttp.Client{
			// No client timeout: it would also run while the call waits
			// for a token. attempt times the attempt itself.
			HTTPClient:   &http.Client{Transport: base},
			RetryMax:     0, // the RetryPolicy is the one loop
			CheckRetry:   func(context.Context, *http.Response, error) (bool, error) { return false, nil },
			ErrorHandler: retryablehttp.PassthroughErrorHandler, // the answer or the error as it was
		},
	}, nil
}

// attempt is one attempt: the breaker first (a refused attempt takes no
// token), then a token, then the network. inTier: the call is a retry
// tier's, whose failure the breaker does not count.
func (s *sender) attempt(ctx context.Context, req *retryablehttp.Request, inTier bool) (a answer, refused bool, err error) {
	return s.breaker.execute(inTier, func() (answer, error) {
		waited, err := s.limiter.Wait(ctx)
		// This attempt's own wait, nobody else's: the counter's rate is
		// how many calls wait for the quota at once.
		s.m.waited.WithLabelValues(s.registry).Add(waited.Seconds())
		if err != nil {
			return answer{}, err
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		resp, err := s.client.Do(req.WithContext(actx))
		s.m.latency.WithLabelValues(s.registry).Observe(time.Since(start).Seconds())
		if err != nil {
			if resp != nil {
				resp.Body.Close()
			}
			s.m.requests.WithLabelValues(s.registry, "transport_error").Inc()
			return answer{}, err
		}
		defer resp.Body.Close()
		s.m.requests.WithLabelValues(s.registry, strconv.Itoa(resp.StatusCode)).Inc()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body, readErr: err}, nil
	})
}

// send makes one call and classifies its answer: up to policy.Attempts
// attempts in place while the answer is a transport failure, a 429 or a
// 5xx (not 501), spaced by the policy; never again after a refusal by
// the breaker, whose wait belongs to the stage. onFail, when set, is told
// each failed attempt that was worth another, so that a call cut short
// still says why it failed. refused is true when the breaker refused it.
func (s *sender) send(ctx context.Context, call Call, inTier bool, onFail func(Outcome)) (out Outcome, refused bool) {
	req, err := retryablehttp.NewRequestWithContext(ctx, call.Method, s.base+call.Path, call.Body)
	if err != nil {
		return s.dest.TransportFailure(err), false
	}
	for k, v := range call.Header {
		req.Header.Set(k, v)
	}
	if call.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	for i := 0; ; i++ {
		a, refused, err := s.attempt(ctx, req, inTier)
		var (
			again  bool
			advice time.Duration
		)
		switch {
		case refused:
			s.m.requests.WithLabelValues(s.registry, "breaker_open").Inc()
			return s.dest.TransportFailure(err), true
		case err != nil:
			out, again = s.dest.TransportFailure(err), ctx.Err() == nil
		case a.readErr != nil:
			return s.dest.TransportFailure(fmt.Errorf("read answer: %w", a.readErr)), false
		default:
			out, again, advice = s.dest.Classify(call, a.status, a.retryAfter, a.body), a.again(), a.advice(time.Now())
		}
		if !again {
			return out, false
		}
		if onFail != nil {
			onFail(out)
		}
		if i+1 >= s.policy.Attempts {
			return out, false
		}
		if sleepCtx(ctx, s.inPlace(i, advice)) != nil {
			return s.dest.TransportFailure(ctx.Err()), false
		}
	}
}

// inPlace is the wait after attempt i (from 0) of a call failed with the
// registry's advice (0 for none). The retry budget is the stage's: it
// counts across rounds, not within one.
func (s *sender) inPlace(i int, advice time.Duration) time.Duration {
	p := s.policy
	p.Budget = time.Duration(math.MaxInt64)
	wait, _ := p.Next(i, Failure{RetryAfter: advice}, 0)
	return wait
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
	for k, v := range call.Header {
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return isCTL(r) || r == ' ' || r == ':' }) >= 0 {
			return fmt.Errorf("a header name holds a space, colon or control character")
		}
		if i := strings.IndexFunc(v, isCTL); i >= 0 {
			return fmt.Errorf("header %s holds a control character at byte %d", k, i)
		}
	}
	if i := strings.IndexFunc(call.Path, func(r rune) bool { return isCTL(r) || r == ' ' }); i >= 0 {
		return fmt.Errorf("the request path holds a space or control character at byte %d", i)
	}
	return nil
}

// isCTL reports a character no HTTP header value may hold (RFC 9110
// §5.5): controls other than horizontal tab, and DEL.
func isCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// clientTLS is the registry's TLS setting; nil (Go's defaults) when it
// sets nothing.
func clientTLS(c config.ClientTLS) (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.ServerName == "" {
		return nil, nil
	}
	return tlsfiles.Client{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName}.Config("tls")
}
