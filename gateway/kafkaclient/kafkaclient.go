// Package kafkaclient turns the gateway's Kafka configuration into franz-go
// client options (brokers, TLS, SASL) and checks that the cluster answers.
package kafkaclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsfiles"
)

// MetadataMinAge is how soon a client may ask for metadata again (franz-go's
// default is 5 s). Kafka 4's transactions (KIP-890, version 2) add a
// partition to a transaction with its first produce, and a produce that
// comes while the broker still writes the previous transaction's markers
// is answered CONCURRENT_TRANSACTIONS. franz-go retries it after a metadata
// refresh, and with the default that refresh, and so the whole stage, waits
// up to 5 s: measured on the raw pipeline of the bench, one transaction in
// a few stalled 4.7 s in its flush.
const MetadataMinAge = 250 * time.Millisecond

// Options returns the client options every gateway client shares.
func Options(c config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.DialTimeout.D()),
		kgo.MetadataMinAge(MetadataMinAge),
	}
	if c.UsesTLS() {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := saslMechanism(c.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func tlsConfig(c config.TLS) (*tls.Config, error) {
	return tlsfiles.Client{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName}.Config("kafka.tls")
}

func saslMechanism(c config.SASL) (sasl.Mechanism, error) {
	password := c.Password
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	switch c.Mechanism {
	case "PLAIN":
		return plain.Auth{User: c.Username, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.Username, Pass: password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.Username, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not supported", c.Mechanism)
}

// UnreachableError says that no seed broker answered.
type UnreachableError struct {
	Brokers []string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Kafka at %s: %v", strings.Join(e.Brokers, ","), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// HandshakeError says that a broker was reached but refused the SASL
// login: a wrong password or mechanism, not a network problem.
type HandshakeError struct {
	Brokers   []string
	Mechanism string
	User      string
	Err       error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("Kafka at %s refused the SASL %s login of user %q (check kafka.sasl): %v", strings.Join(e.Brokers, ","), e.Mechanism, e.User, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// saslRefused reports whether err is a broker's refusal of the SASL
// handshake or authentication, as Apache Kafka answers it.
func saslRefused(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState)
}

// saslWatch notes a connection that failed while it read the answer to a
// SASL request: a broker that closes the connection on a wrong password
// (as kfake does) leaves only an EOF, which would read as "unreachable".
type saslWatch struct{ failed atomic.Bool }

func (w *saslWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && (key == kmsg.SASLHandshake.Int16() || key == kmsg.SASLAuthenticate.Int16()) {
		w.failed.Store(true)
	}
}

// loginRefused tells, with a client of its own, whether the brokers refuse
// the SASL login of c, for a Ping whose metadata request failed after the
// brokers were reached.
func loginRefused(ctx context.Context, c config.Kafka) bool {
	opts, err := Options(c)
	if err != nil {
		return false
	}
	watch := &saslWatch{}
	cl, err := kgo.NewClient(append(opts, kgo.WithHooks(watch), kgo.RequestRetries(0))...)
	if err != nil {
		return false
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
	return err != nil && (saslRefused(err) || watch.failed.Load())
}

// Ping asks the cluster for its metadata within timeout. It first dials the
// seed brokers itself, because a client pointed at a closed port otherwise
// retries until its context ends and reports only that the context ended.
func Ping(ctx context.Context, c config.Kafka, cl *kgo.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var dialErr error
	reached := false
	for _, b := range c.Brokers {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", b)
		if err == nil {
			conn.Close()
			reached = true
			break
		}
		dialErr = err
	}
	if !reached {
		return &UnreachableError{Brokers: c.Brokers, Err: dialErr}
	}
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		if c.SASL.Mechanism != "" && (saslRefused(err) || loginRefused(ctx, c)) {
			return &HandshakeError{Brokers: c.Brokers, Mechanism: c.SASL.Mechanism, User: c.SASL.Username, Err: err}
		}
		return &UnreachableError{Brokers: c.Brokers, Err: err}
	}
	return nil
}
