// Package config loads the gateway's configuration: defaults, then a YAML
// file, then environment variables (the environment wins). Every mistake is
// reported with the key or variable it concerns, so an operator can fix it
// without reading code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Config is the whole configuration. The yaml tags are the file's keys; the
// env tags the environment variables that override them.
type Config struct {
	Instance  string    `yaml:"instance_id" env:"EGISZ_INSTANCE_ID" doc:"stable name of this instance (default: the host name); names its Kafka transactional ids, so a restarted instance fences its predecessor at once"`
	Kafka     Kafka     `yaml:"kafka"`
	Normalize Normalize `yaml:"normalize"`
	Forward   Forward   `yaml:"forward"`
	HTTP      HTTP      `yaml:"http"`
	Admin     Admin     `yaml:"admin"`
	DLQ       DLQ       `yaml:"dlq"`
	Dev       Dev       `yaml:"dev"`
	Log       Log       `yaml:"log"`
	Shutdown  Duration  `yaml:"shutdown_timeout" env:"EGISZ_SHUTDOWN_TIMEOUT" doc:"how long a clean shutdown may take"`
}

// Kafka is how the gateway reaches its cluster.
type Kafka struct {
	Brokers           []string `yaml:"brokers" env:"EGISZ_KAFKA_BROKERS,KAFKA_BROKERS" doc:"seed brokers, host:port, comma-separated in the environment"`
	ClientID          string   `yaml:"client_id" env:"EGISZ_KAFKA_CLIENT_ID"`
	TopicPrefix       string   `yaml:"topic_prefix" env:"EGISZ_TOPIC_PREFIX" doc:"put in front of every topic and group name, to share a cluster"`
	ReplicationFactor int      `yaml:"replication_factor" env:"EGISZ_KAFKA_REPLICATION_FACTOR" doc:"for topics the gateway creates; -1 takes the broker default"`
	DialTimeout       Duration `yaml:"dial_timeout" env:"EGISZ_KAFKA_DIAL_TIMEOUT"`
	TLS               TLS      `yaml:"tls"`
	SASL              SASL     `yaml:"sasl"`
}

// TLS to the brokers.
type TLS struct {
	Enabled    bool   `yaml:"enabled" env:"EGISZ_KAFKA_TLS"`
	CAFile     string `yaml:"ca_file" env:"EGISZ_KAFKA_TLS_CA_FILE" doc:"PEM bundle of the CAs to trust; the system pool when empty"`
	CertFile   string `yaml:"cert_file" env:"EGISZ_KAFKA_TLS_CERT_FILE" doc:"client certificate (PEM), for mTLS"`
	KeyFile    string `yaml:"key_file" env:"EGISZ_KAFKA_TLS_KEY_FILE" doc:"client key (PEM), for mTLS"`
	ServerName string `yaml:"server_name" env:"EGISZ_KAFKA_TLS_SERVER_NAME"`
}

// SASL authentication to the brokers.
type SASL struct {
	Mechanism    string `yaml:"mechanism" env:"EGISZ_KAFKA_SASL_MECHANISM" doc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none"`
	Username     string `yaml:"username" env:"EGISZ_KAFKA_SASL_USERNAME"`
	Password     string `yaml:"password" env:"EGISZ_KAFKA_SASL_PASSWORD"`
	PasswordFile string `yaml:"password_file" env:"EGISZ_KAFKA_SASL_PASSWORD_FILE" doc:"read the password from this file (a mounted secret)"`
	// AllowPlaintext lets PLAIN run without TLS, which sends the password
	// in clear to anyone on the path: refused unless said here.
	AllowPlaintext bool `yaml:"allow_plaintext" env:"EGISZ_KAFKA_SASL_ALLOW_PLAINTEXT" doc:"let SASL PLAIN send its password without TLS (in clear); refused unless true"`
}

// UsesTLS reports whether the brokers are reached over TLS.
func (k Kafka) UsesTLS() bool { return k.TLS.Enabled || k.TLS.CAFile != "" || k.TLS.CertFile != "" }

// PlainPasswordInClear reports whether SASL PLAIN is to send its password
// without TLS; Validate lets it only with allow_plaintext.
func (k Kafka) PlainPasswordInClear() bool { return k.SASL.Mechanism == "PLAIN" && !k.UsesTLS() }

// Normalize configures the normalize stage.
type Normalize struct {
	DedupWindow    Duration `yaml:"dedup_window" env:"EGISZ_DEDUP_WINDOW" doc:"dedup keys not seen for this long are forgotten (default 9600h, 400 days)"`
	MaxBatch       int      `yaml:"max_batch" env:"EGISZ_NORMALIZE_MAX_BATCH" doc:"records in one transaction at most"`
	MaxRecordBytes int      `yaml:"max_record_bytes" env:"EGISZ_MAX_RECORD_BYTES" doc:"larger ingress values are rejected (default 1 MiB)"`
	TimersEvery    Duration `yaml:"timers_every" env:"EGISZ_NORMALIZE_TIMERS_EVERY" doc:"how often prescriptions past their last valid day are looked for and expired (default 1m)"`
	ClockSkew      Duration `yaml:"clock_skew" env:"EGISZ_NORMALIZE_CLOCK_SKEW" doc:"how far ahead of the gateway's clock a moment of an event may be before it is DATE_IN_FUTURE, for every time field (default 5m)"`
	// ConsentRequiredFor is off by default: the law asks the clinic, not
	// the exchange, to hold the patient's informed consent, and most
	// deployments have no consent events on record yet; turned on without
	// them, it would refuse every event it names.
	ConsentRequiredFor []string `yaml:"consent_required_for" env:"EGISZ_CONSENT_REQUIRED_FOR" doc:"events forwarded only when a consent covering the federal registries is on record (CONSENT_MISSING otherwise): case, document, prescription, lab_result, dispensation, or document:<СЭМД kind code>; comma-separated in the environment. Empty by default (off): consent is the clinic's to hold, and without consent events on record the rule would refuse every event it names"`
	ConsentScope       string   `yaml:"consent_scope" env:"EGISZ_CONSENT_SCOPE" doc:"the consent_scope of the consent events that cover the federal registries: only their grants and revocations count. Empty by default: every scope counts (a revocation of any scope stops every event)"`
	// SNILSRequiredFor is empty by default: the public record does not
	// list the document kinds РЭМД refuses without a СНИЛС (NO_SNILS).
	SNILSRequiredFor []string `yaml:"snils_required_for" env:"EGISZ_SNILS_REQUIRED_FOR" doc:"СЭМД kind codes whose documents must name the patient's СНИЛС, rejected at ingest with NO_SNILS; comma-separated in the environment. Empty by default: the public record does not list the kinds РЭМД refuses without one"`
	// Documents configures the checks of the documents themselves.
	Documents Documents `yaml:"documents"`
}

// Documents configures the checks of a document's CDA file and its
// signatures, and the fetching of a file given by reference.
type Documents struct {
	TrustRoots   []string `yaml:"trust_roots" env:"EGISZ_NORMALIZE_DOCUMENTS_TRUST_ROOTS" doc:"the accredited CAs signers' certificates must chain to: PEM files, or directories whose *.pem files are read, comma-separated in the environment; dev uses its test CA when empty"`
	FetchTimeout Duration `yaml:"fetch_timeout" env:"EGISZ_NORMALIZE_DOCUMENTS_FETCH_TIMEOUT" doc:"fetching one document by its https reference may take this long (default 5s, 1s to 10s: the stage fetches inside its 20 s transaction); a fetch that fails parks the event DOCUMENT_FETCH_FAILED, to be replayed, and a host that did not answer is not asked again for 30 s"`
}

// Forward configures the forward stage: one destination per registry and
// РЭМД's callback.
type Forward struct {
	REMD Destination `yaml:"remd" envprefix:"EGISZ_FORWARD_REMD_"`
	IEMK Destination `yaml:"iemk" envprefix:"EGISZ_FORWARD_IEMK_"`
	ERX  Destination `yaml:"erx" envprefix:"EGISZ_FORWARD_ERX_"`
	// Callback is РЭМД's asynchronous answer.
	Callback Callback `yaml:"remd_callback"`
	// Retry is what happens after the retries in place.
	Retry Retry `yaml:"retry"`
}

// RegistryDestination is one registry's row of Forward.Registries.
type RegistryDestination struct {
	Name topics.Registry
	Key  string       // its configuration key, forward.<name>
	Dest *Destination // its settings, in the Forward it came from
}

// registryFields is the one table of the registries' settings: which
// field of Forward each registry of topics.Registries has. A new
// registry is a row of topics.Registries, a field of Forward (its YAML key
// and environment prefix), a row here, and an adapter; Default, Validate
// and the stage wiring loop over Registries.
var registryFields = map[topics.Registry]func(*Forward) *Destination{
	topics.RegistryREMD: func(f *Forward) *Destination { return &f.REMD },
	topics.RegistryIEMK: func(f *Forward) *Destination { return &f.IEMK },
	topics.RegistryERX:  func(f *Forward) *Destination { return &f.ERX },
}

// Registries are the registries' settings in topics.Registries' order,
// pointing into f.
func (f *Forward) Registries() []RegistryDestination {
	out := make([]RegistryDestination, 0, len(topics.Registries))
	for _, r := range topics.Registries {
		if field, ok := registryFields[r]; ok {
			out = append(out, RegistryDestination{Name: r, Key: "forward." + string(r), Dest: field(f)})
		}
	}
	return out
}

// Retry configures the delayed retry tiers (DESIGN §4 "Retry").
type Retry struct {
	Tiers   []Duration `yaml:"tiers" env:"EGISZ_RETRY_TIERS" doc:"delays of the retry topics, in order (default 30s,5m,1h); each is a topic egisz.retry.<registry>.<delay>"`
	OrderBy string     `yaml:"order_by" env:"EGISZ_RETRY_ORDER_BY" doc:"what later records queue behind while a record waits in a tier: dedup (the same case, document or prescription; default) or patient (everything of the patient)"`
}

// Destination is one registry's endpoint and how hard the gateway may push it.
// Its environment variables are EGISZ_FORWARD_<REGISTRY>_<NAME>, e.g.
// EGISZ_FORWARD_REMD_URL.
type Destination struct {
	URL                string    `yaml:"url" env:"URL" doc:"the registry's base URL; the stage for this registry does not run while it is empty"`
	Concurrency        int       `yaml:"concurrency" env:"CONCURRENCY" doc:"requests in flight at most"`
	RatePerMinute      int       `yaml:"rate_per_minute" env:"RATE_PER_MINUTE" doc:"the registry's quota, requests a minute, retries included; 0 for none"`
	Burst              int       `yaml:"burst" env:"BURST" doc:"requests the rate limit lets through at once after a quiet spell"`
	Timeout            Duration  `yaml:"timeout" env:"TIMEOUT" doc:"one attempt may take this long"`
	Attempts           int       `yaml:"attempts" env:"ATTEMPTS" doc:"attempts in place for one call before the call counts as failed"`
	BackoffMin         Duration  `yaml:"backoff_min" env:"BACKOFF_MIN" doc:"first wait between attempts; doubles, with jitter"`
	BackoffMax         Duration  `yaml:"backoff_max" env:"BACKOFF_MAX" doc:"longest wait between attempts"`
	RetryAfterMax      Duration  `yaml:"retry_after_max" env:"RETRY_AFTER_MAX" doc:"a registry's Retry-After is honoured up to this long"`
	RetryBudget        Duration  `yaml:"retry_budget" env:"RETRY_BUDGET" doc:"a record that keeps failing transiently this long is parked in the registry's DLQ"`
	BreakerFailures    int       `yaml:"breaker_failures" env:"BREAKER_FAILURES" doc:"consecutive failed attempts that open the circuit breaker"`
	BreakerOpen        Duration  `yaml:"breaker_open" env:"BREAKER_OPEN" doc:"how long the breaker stays open (consumption paused) before a probe"`
	BreakerMinRequests int       `yaml:"breaker_min_requests" env:"BREAKER_MIN_REQUESTS" doc:"attempts in the last 10 s below which the breaker stays closed: a few failing records are the retry tiers' business, not an outage"`
	MaxBatch           int       `yaml:"max_batch" env:"MAX_BATCH" doc:"records in one transaction at most"`
	TLS                ClientTLS `yaml:"tls"`
	// IPS is how a registry behind ИПС is spoken to: signed SOAP (РЭМД).
	IPS IPS `yaml:"ips"`
}

// IPS configures a registry reached through ИПС, the integration
// gateway of ЕГИСЗ (domain/PROTOCOLS.md §1): signed SOAP 1.2 to the
// registry's url, the information system's id in every call, and the
// certificates that sign what the registry sends back (its result
// callbacks and its requests for a document's file, on the callback
// listener). Required for РЭМД. The address РЭМД answers to (wsa:ReplyTo
// and FaultTo) is forward.remd_callback.url: the callback listener's own
// URL unless set.
type IPS struct {
	To             string `yaml:"to" env:"IPS_TO" doc:"the service address put in wsa:To of every call, as ИПС names it (default: the registry's url)"`
	ClientEntityID string `yaml:"client_entity_id" env:"IPS_CLIENT_ENTITY_ID" doc:"the information system's GUID registered in ИПС, sent in transportHeader/authInfo/clientEntityId; required for РЭМД"`
	// Signer signs every call (WS-Security); production names the
	// external signer (kind cryptopro-dss), dev a generated test key.
	Signer signerconfig.Config `yaml:"signer" envprefix:"IPS_SIGNER_" doc:"the key that signs every call and answer (WS-Security): kind local (key_file and cert_file, or pkcs12_file) or cryptopro-dss (production, its section in YAML); secrets are named by file or environment variable; required for РЭМД"`
	// InboundTrust is which certificates sign РЭМД's callbacks and file
	// requests: the public record does not say whether ИПС's or РЭМД's
	// own, so it is configuration.
	InboundTrust []string `yaml:"inbound_trust" env:"IPS_INBOUND_TRUST" doc:"the CA or certificates of ИПС or РЭМД that sign its callbacks and file requests: PEM files, or directories whose *.pem files are read, comma-separated in the environment; a message signed by anything else is refused; required for РЭМД"`
}

// WSATo is the wsa:To of the calls to the registry at url: To, or url.
func (i IPS) WSATo(url string) string {
	if i.To != "" {
		return i.To
	}
	return url
}

// ClientTLS is how the gateway authenticates to a registry (mTLS).
type ClientTLS struct {
	CAFile     string `yaml:"ca_file" env:"TLS_CA_FILE" doc:"PEM bundle of the CAs to trust; the system pool when empty"`
	CertFile   string `yaml:"cert_file" env:"TLS_CERT_FILE" doc:"client certificate (PEM)"`
	KeyFile    string `yaml:"key_file" env:"TLS_KEY_FILE" doc:"client key (PEM)"`
	ServerName string `yaml:"server_name" env:"TLS_SERVER_NAME"`
}

// Callback configures РЭМД's callback endpoint (/emdr/callback) and the
// documents waiting for it. The endpoint has a listener of its own, apart
// from /metrics, and takes only callers with a client certificate of
// tls.client_ca_file: whoever calls it can settle a document.
type Callback struct {
	URL            string      `yaml:"url" env:"EGISZ_REMD_CALLBACK_URL" doc:"the callback URL sent to РЭМД, as РЭМД reaches this gateway (default: https://<the address listen bound>/emdr/callback)"`
	Listen         string      `yaml:"listen" env:"EGISZ_REMD_CALLBACK_LISTEN" doc:"address of РЭМД's callback endpoint, its own listener (default 127.0.0.1:9466)"`
	TLS            CallbackTLS `yaml:"tls"`
	Wait           Duration    `yaml:"wait" env:"EGISZ_REMD_CALLBACK_WAIT" doc:"a callback for a document not yet known waits this long for the forward stage's write, then is kept as an orphan; keep it well under how long РЭМД waits for an answer"`
	ReconcileAfter Duration    `yaml:"reconcile_after" env:"EGISZ_REMD_RECONCILE_AFTER" doc:"a document with no callback this long is looked up in РЭМД"`
	KeepDone       Duration    `yaml:"keep_done" env:"EGISZ_REMD_KEEP_DONE" doc:"a finished document is remembered this long, to recognise repeated callbacks"`
	// Orphans are callbacks for documents not known (yet) here, kept in
	// the pending topic and in every instance's memory until their
	// document comes or keep_done passes; past these bounds a callback
	// for an unknown document is answered 503, so that РЭМД sends it again.
	MaxOrphans              int `yaml:"max_orphans" env:"EGISZ_REMD_MAX_ORPHANS" doc:"orphaned callbacks kept at most (default 100000)"`
	MaxOrphanBytes          int `yaml:"max_orphan_bytes" env:"EGISZ_REMD_MAX_ORPHAN_BYTES" doc:"bytes of orphaned callbacks kept at most (default 64 MiB)"`
	MaxOrphansPerSource     int `yaml:"max_orphans_per_source" env:"EGISZ_REMD_MAX_ORPHANS_PER_SOURCE" doc:"orphaned callbacks kept at most from one source address (default 50000)"`
	MaxOrphanBytesPerSource int `yaml:"max_orphan_bytes_per_source" env:"EGISZ_REMD_MAX_ORPHAN_BYTES_PER_SOURCE" doc:"bytes of orphaned callbacks kept at most from one source address (default 32 MiB)"`
}

// CallbackTLS is the callback endpoint's certificate and the CA of the
// registry's client certificates (mTLS).
type CallbackTLS struct {
	CertFile     string   `yaml:"cert_file" env:"EGISZ_REMD_CALLBACK_TLS_CERT_FILE" doc:"the callback endpoint's certificate (PEM); required when forward.remd.url is set"`
	KeyFile      string   `yaml:"key_file" env:"EGISZ_REMD_CALLBACK_TLS_KEY_FILE" doc:"its key (PEM)"`
	ClientCAFile string   `yaml:"client_ca_file" env:"EGISZ_REMD_CALLBACK_TLS_CLIENT_CA_FILE" doc:"the CAs РЭМД's client certificate must chain to (PEM); a callback without such a certificate is refused"`
	ClientNames  []string `yaml:"client_names" env:"EGISZ_REMD_CALLBACK_TLS_CLIENT_NAMES" doc:"when set, the client certificate must name one of these (common name or DNS name), comma-separated in the environment"`
}

// TierDelays returns the retry tiers as durations.
func (r Retry) TierDelays() []time.Duration {
	out := make([]time.Duration, len(r.Tiers))
	for i, d := range r.Tiers {
		out[i] = d.D()
	}
	return out
}

// HTTP is the gateway's own HTTP endpoint: health, readiness, metrics.
type HTTP struct {
	Listen string `yaml:"listen" env:"EGISZ_HTTP_LISTEN" doc:"address of /healthz, /readyz and /metrics"`
	// Pprof serves Go's profiles on the same address under /debug/pprof/:
	// stacks and counts only, no record contents, but a CPU profile costs
	// the process while it is taken, so it is off unless asked for.
	Pprof bool `yaml:"pprof" env:"EGISZ_HTTP_PPROF" doc:"serve /debug/pprof/ on http.listen (default off)"`
}

// Admin configures the admin HTTP API: dead-letter operations and the
// audit log. It is off unless enabled, and listens on loopback unless
// told otherwise; an address other than loopback needs TLS.
type Admin struct {
	Enabled   bool      `yaml:"enabled" env:"EGISZ_ADMIN_ENABLED" doc:"serve the admin API (default false)"`
	Listen    string    `yaml:"listen" env:"EGISZ_ADMIN_LISTEN" doc:"address of the admin API (default 127.0.0.1:9465)"`
	UsersFile string    `yaml:"users_file" env:"EGISZ_ADMIN_USERS_FILE" doc:"who may call and with which role: lines of '<name> <viewer|operator|auditor> <sha256:<hex>|token:<token>|mtls>'"`
	TLS       ServerTLS `yaml:"tls"`
}

// ServerTLS is a server's certificate and, for mTLS, the CAs its clients'
// certificates must chain to.
type ServerTLS struct {
	CertFile     string `yaml:"cert_file" env:"EGISZ_ADMIN_TLS_CERT_FILE" doc:"server certificate (PEM); serves HTTPS when set"`
	KeyFile      string `yaml:"key_file" env:"EGISZ_ADMIN_TLS_KEY_FILE" doc:"server key (PEM)"`
	ClientCAFile string `yaml:"client_ca_file" env:"EGISZ_ADMIN_TLS_CLIENT_CA_FILE" doc:"verify client certificates against these CAs; a verified certificate's common name is an mtls user of users_file"`
}

// DLQ configures dead-letter operations, from the CLI and the admin API.
type DLQ struct {
	ReplayRate  int      `yaml:"replay_rate" env:"EGISZ_DLQ_REPLAY_RATE" doc:"records a second a replay sends at most unless asked otherwise (default 50)"`
	PurgeMinAge Duration `yaml:"purge_min_age" env:"EGISZ_DLQ_PURGE_MIN_AGE" doc:"purge leaves records younger than this unless forced (default 72h)"`
}

// Dev configures the broker and emulator of `egisz-gateway dev`.
type Dev struct {
	Kafka          string `yaml:"kafka" env:"EGISZ_DEV_KAFKA" doc:"the broker dev runs on: embedded (in the process, nothing to install; not crash-safe) or apache (Apache Kafka, needs Java 17 and Maven; crash-safe)"`
	BrokerListen   string `yaml:"broker_listen" env:"EGISZ_DEV_BROKER_LISTEN" doc:"where the dev broker listens; loopback only"`
	DataDir        string `yaml:"data_dir" env:"EGISZ_DEV_DATA_DIR" doc:"keep the dev broker's data here across restarts; gone when dev stops when empty"`
	EmulatorListen string `yaml:"emulator_listen" env:"EGISZ_DEV_EMULATOR_LISTEN" doc:"where the registry emulator listens; registries without a URL are pointed at it"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level" env:"EGISZ_LOG_LEVEL" doc:"debug, info, warn or error; the Kafka client's own warnings show from info, its group and assignment events at debug"`
	Format string `yaml:"format" env:"EGISZ_LOG_FORMAT" doc:"text or json"`
}

// Default returns the configuration used when nothing is set: a local
// broker on 127.0.0.1:9092 and the HTTP endpoint on 127.0.0.1:9464.
func Default() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "egisz-gateway"
	}
	c := Config{
		Instance: host,
		Normalize: Normalize{
			DedupWindow:    Duration(400 * 24 * time.Hour),
			MaxBatch:       5000,
			MaxRecordBytes: 1 << 20,
			TimersEvery:    Duration(time.Minute),
			ClockSkew:      Duration(5 * time.Minute),
			Documents:      Documents{FetchTimeout: Duration(5 * time.Second)},
		},
		Kafka: Kafka{
			Brokers:           []string{"127.0.0.1:9092"},
			ClientID:          "egisz-gateway",
			ReplicationFactor: -1,
			DialTimeout:       Duration(10 * time.Second),
		},
		Forward: Forward{
			Callback: Callback{Listen: "127.0.0.1:9466", Wait: Duration(2 * time.Second), ReconcileAfter: Duration(10 * time.Minute), KeepDone: Duration(24 * time.Hour),
				MaxOrphans: 100000, MaxOrphanBytes: 64 << 20, MaxOrphansPerSource: 50000, MaxOrphanBytesPerSource: 32 << 20},
			Retry: Retry{Tiers: []Duration{Duration(30 * time.Second), Duration(5 * time.Minute), Duration(time.Hour)}, OrderBy: "dedup"},
		},
		HTTP:     HTTP{Listen: "127.0.0.1:9464"},
		Admin:    Admin{Listen: "127.0.0.1:9465"},
		DLQ:      DLQ{ReplayRate: 50, PurgeMinAge: Duration(72 * time.Hour)},
		Dev:      Dev{Kafka: "embedded", BrokerListen: "127.0.0.1:9092", EmulatorListen: "127.0.0.1:9480"},
		Log:      Log{Level: "info", Format: "text"},
		Shutdown: Duration(10 * time.Second),
	}
	for _, r := range c.Forward.Registries() {
		*r.Dest = DefaultDestination()
	}
	return c
}

// DefaultDestination is a registry's settings when nothing is set: no URL
// (the stage does not run), 64 requests in flight, no quota, 4 attempts in
// place 200 ms to 5 s apart, Retry-After honoured up to 2 minutes, the
// breaker open for 30 s after 5 failures in a row, and a record parked
// after failing transiently for an hour.
func DefaultDestination() Destination {
	return Destination{
		Concurrency: 64, Burst: 1, Timeout: Duration(10 * time.Second), Attempts: 4,
		BackoffMin: Duration(200 * time.Millisecond), BackoffMax: Duration(5 * time.Second),
		RetryAfterMax: Duration(2 * time.Minute), RetryBudget: Duration(time.Hour),
		BreakerFailures: 5, BreakerOpen: Duration(30 * time.Second), BreakerMinRequests: 20, MaxBatch: 2000,
	}
}

// Error is a configuration mistake. Key names the YAML key (a dotted path)
// or the environment variable at fault.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "config: " + e.Msg
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

// Load reads the defaults, then the YAML file at path (skipped when path is
// empty), then the environment through getenv (os.Getenv in production).
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, &Error{Msg: fmt.Sprintf("read %s: %v", path, errors.Unwrap(err))}
		}
		if err := decodeYAML(b, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), getenv, ""); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Validate checks values that are well-formed but wrong together.
func (c Config) Validate() error {
	if len(c.Kafka.Brokers) == 0 {
		return &Error{Key: "kafka.brokers", Msg: "at least one broker is required"}
	}
	for _, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			return &Error{Key: "kafka.brokers", Msg: fmt.Sprintf("%q is not host:port", b)}
		}
	}
	switch c.Kafka.SASL.Mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return &Error{Key: "kafka.sasl.mechanism", Msg: fmt.Sprintf("%q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.Kafka.SASL.Mechanism)}
	}
	if c.Kafka.SASL.Mechanism != "" && c.Kafka.SASL.Username == "" {
		return &Error{Key: "kafka.sasl.username", Msg: "required with a SASL mechanism"}
	}
	if c.Kafka.PlainPasswordInClear() && !c.Kafka.SASL.AllowPlaintext {
		return &Error{Key: "kafka.sasl.mechanism", Msg: "PLAIN without TLS sends the password in clear: enable kafka.tls, use SCRAM-SHA-512, or set kafka.sasl.allow_plaintext: true to accept that"}
	}
	if (c.Kafka.TLS.CertFile == "") != (c.Kafka.TLS.KeyFile == "") {
		return &Error{Key: "kafka.tls.cert_file", Msg: "cert_file and key_file go together"}
	}
	if c.Kafka.ReplicationFactor == 0 || c.Kafka.ReplicationFactor < -1 {
		return &Error{Key: "kafka.replication_factor", Msg: fmt.Sprintf("%d: use a positive number, or -1 for the broker default", c.Kafka.ReplicationFactor)}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log.level", Msg: fmt.Sprintf("%q is not one of debug, info, warn, error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &Error{Key: "log.format", Msg: fmt.Sprintf("%q is not one of text, json", c.Log.Format)}
	}
	switch c.Dev.Kafka {
	case "embedded", "apache":
	default:
		return &Error{Key: "dev.kafka", Msg: fmt.Sprintf("%q is not one of embedded, apache", c.Dev.Kafka)}
	}
	if c.Shutdown <= 0 {
		return &Error{Key: "shutdown_timeout", Msg: "must be positive"}
	}
	if c.Instance == "" {
		return &Error{Key: "instance_id", Msg: "must not be empty"}
	}
	if c.Normalize.DedupWindow <= 0 {
		return &Error{Key: "normalize.dedup_window", Msg: "must be positive"}
	}
	if c.Normalize.MaxBatch < 1 {
		return &Error{Key: "normalize.max_batch", Msg: "must be 1 or more"}
	}
	if c.Normalize.MaxRecordBytes < 1024 {
		return &Error{Key: "normalize.max_record_bytes", Msg: "must be at least 1024"}
	}
	if c.Normalize.TimersEvery < Duration(100*time.Millisecond) {
		return &Error{Key: "normalize.timers_every", Msg: "must be 100ms or more"}
	}
	if c.Normalize.Documents.FetchTimeout < Duration(time.Second) || c.Normalize.Documents.FetchTimeout > Duration(10*time.Second) {
		return &Error{Key: "normalize.documents.fetch_timeout", Msg: "must be from 1s to 10s: the stage fetches inside its transaction"}
	}
	if c.Normalize.ClockSkew < 0 || c.Normalize.ClockSkew > Duration(24*time.Hour) {
		return &Error{Key: "normalize.clock_skew", Msg: "must be from 0 to 24h"}
	}
	for _, k := range c.Normalize.ConsentRequiredFor {
		kind, docKind, isDoc := strings.Cut(k, ":")
		switch {
		case isDoc && kind == "document" && allDigits(docKind):
		case !isDoc && slices.Contains([]string{"case", "document", "prescription", "lab_result", "dispensation"}, kind):
		default:
			return &Error{Key: "normalize.consent_required_for", Msg: fmt.Sprintf("%q: expected case, document, prescription, lab_result, dispensation or document:<СЭМД kind code>", k)}
		}
	}
	for _, k := range c.Normalize.SNILSRequiredFor {
		if !allDigits(k) {
			return &Error{Key: "normalize.snils_required_for", Msg: fmt.Sprintf("%q: expected a СЭМД kind code (digits)", k)}
		}
	}
	if c.Kafka.DialTimeout <= 0 {
		return &Error{Key: "kafka.dial_timeout", Msg: "must be positive"}
	}
	for _, r := range c.Forward.Registries() {
		if err := r.Dest.validate(r.Key); err != nil {
			return err
		}
	}
	if len(c.Forward.Retry.Tiers) == 0 {
		return &Error{Key: "forward.retry.tiers", Msg: "at least one tier is required"}
	}
	for i, d := range c.Forward.Retry.Tiers {
		if d < Duration(time.Second) || d%Duration(time.Second) != 0 {
			return &Error{Key: fmt.Sprintf("forward.retry.tiers[%d]", i), Msg: fmt.Sprintf("%s: use whole seconds, 1s or more (the delay names a topic)", d)}
		}
		if i > 0 && d <= c.Forward.Retry.Tiers[i-1] {
			return &Error{Key: fmt.Sprintf("forward.retry.tiers[%d]", i), Msg: "tiers must grow: each longer than the one before"}
		}
	}
	switch c.Forward.Retry.OrderBy {
	case "dedup", "patient":
	default:
		return &Error{Key: "forward.retry.order_by", Msg: fmt.Sprintf("%q is not one of dedup, patient", c.Forward.Retry.OrderBy)}
	}
	for _, f := range []durationField{{"wait", c.Forward.Callback.Wait}, {"reconcile_after", c.Forward.Callback.ReconcileAfter}, {"keep_done", c.Forward.Callback.KeepDone}} {
		if f.v <= 0 {
			return &Error{Key: "forward.remd_callback." + f.key, Msg: "must be positive"}
		}
	}
	if err := c.Forward.Callback.validate(c.Forward.REMD.URL != ""); err != nil {
		return err
	}
	if c.Forward.REMD.URL != "" {
		if err := c.Forward.REMD.IPS.validate("forward.remd.ips"); err != nil {
			return err
		}
	}
	if c.DLQ.ReplayRate < 1 {
		return &Error{Key: "dlq.replay_rate", Msg: "must be 1 or more"}
	}
	if c.DLQ.PurgeMinAge < 0 {
		return &Error{Key: "dlq.purge_min_age", Msg: "must not be negative"}
	}
	return c.Admin.validate()
}

// validate checks the bounds, and, when the callback is in use (РЭМД is
// forwarded to), its listener and mTLS: without a client CA anyone could
// settle a document.
func (cb Callback) validate(enabled bool) error {
	for _, f := range []intField{{"max_orphans", cb.MaxOrphans}, {"max_orphan_bytes", cb.MaxOrphanBytes},
		{"max_orphans_per_source", cb.MaxOrphansPerSource}, {"max_orphan_bytes_per_source", cb.MaxOrphanBytesPerSource}} {
		if f.v < 1 {
			return &Error{Key: "forward.remd_callback." + f.key, Msg: "must be 1 or more"}
		}
	}
	if cb.MaxOrphansPerSource > cb.MaxOrphans {
		return &Error{Key: "forward.remd_callback.max_orphans_per_source", Msg: "must not exceed max_orphans"}
	}
	if cb.MaxOrphanBytesPerSource > cb.MaxOrphanBytes {
		return &Error{Key: "forward.remd_callback.max_orphan_bytes_per_source", Msg: "must not exceed max_orphan_bytes"}
	}
	if !enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(cb.Listen); err != nil {
		return &Error{Key: "forward.remd_callback.listen", Msg: fmt.Sprintf("%q is not host:port", cb.Listen)}
	}
	for _, f := range []struct{ key, v string }{{"cert_file", cb.TLS.CertFile}, {"key_file", cb.TLS.KeyFile}, {"client_ca_file", cb.TLS.ClientCAFile}} {
		if f.v == "" {
			return &Error{Key: "forward.remd_callback.tls." + f.key, Msg: "required when forward.remd.url is set: РЭМД's callback is served over mTLS only, so that nobody but РЭМД settles a document"}
		}
	}
	return nil
}

// validate checks a registry's ИПС settings, all required.
func (i IPS) validate(path string) error {
	if i.ClientEntityID == "" {
		return &Error{Key: path + ".client_entity_id", Msg: "required: the information system's GUID registered in ИПС, sent with every call"}
	}
	if !isGUID(i.ClientEntityID) {
		return &Error{Key: path + ".client_entity_id", Msg: fmt.Sprintf("%q is not a GUID (8-4-4-4-12 hex digits)", i.ClientEntityID)}
	}
	if i.To != "" {
		if u, err := url.Parse(i.To); err != nil || u.Scheme == "" || u.Host == "" {
			return &Error{Key: path + ".to", Msg: fmt.Sprintf("%q is not an absolute URL", i.To)}
		}
	}
	if i.Signer.Kind == "" {
		return &Error{Key: path + ".signer.kind", Msg: "required: every call is signed; local (a key file) or cryptopro-dss (production)"}
	}
	if err := i.Signer.Validate(); err != nil {
		return &Error{Key: path + ".signer", Msg: err.Error()}
	}
	if len(i.InboundTrust) == 0 {
		return &Error{Key: path + ".inbound_trust", Msg: "required: the CA or certificates that sign the registry's callbacks and file requests; without them every one is refused"}
	}
	return nil
}

// isGUID reports whether s is a GUID in its usual text form,
// 8-4-4-4-12 hex digits (either case).
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func (a Admin) validate() error {
	if !a.Enabled {
		return nil
	}
	if a.UsersFile == "" {
		return &Error{Key: "admin.users_file", Msg: "required when the admin API is enabled: nobody could call it"}
	}
	if (a.TLS.CertFile == "") != (a.TLS.KeyFile == "") {
		return &Error{Key: "admin.tls.cert_file", Msg: "cert_file and key_file go together"}
	}
	if a.TLS.ClientCAFile != "" && a.TLS.CertFile == "" {
		return &Error{Key: "admin.tls.client_ca_file", Msg: "client certificates need the server's own (cert_file, key_file)"}
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return &Error{Key: "admin.listen", Msg: fmt.Sprintf("%q is not host:port", a.Listen)}
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && a.TLS.CertFile == "" {
		return &Error{Key: "admin.listen", Msg: fmt.Sprintf("%s is not a loopback address: bearer tokens would cross the network in clear; set admin.tls", a.Listen)}
	}
	return nil
}

func (d Destination) validate(path string) error {
	if d.URL != "" {
		u, err := url.Parse(d.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: path + ".url", Msg: fmt.Sprintf("%q is not an http or https URL", d.URL)}
		}
	}
	for _, f := range []intField{{"concurrency", d.Concurrency}, {"burst", d.Burst}, {"attempts", d.Attempts}, {"breaker_failures", d.BreakerFailures}, {"breaker_min_requests", d.BreakerMinRequests}, {"max_batch", d.MaxBatch}} {
		if f.v < 1 {
			return &Error{Key: path + "." + f.key, Msg: "must be 1 or more"}
		}
	}
	if d.RatePerMinute < 0 {
		return &Error{Key: path + ".rate_per_minute", Msg: "must be 0 (no quota) or more"}
	}
	for _, f := range []durationField{{"timeout", d.Timeout}, {"backoff_min", d.BackoffMin}, {"backoff_max", d.BackoffMax}, {"retry_after_max", d.RetryAfterMax}, {"retry_budget", d.RetryBudget}, {"breaker_open", d.BreakerOpen}} {
		if f.v <= 0 {
			return &Error{Key: path + "." + f.key, Msg: "must be positive"}
		}
	}
	if d.BackoffMin > d.BackoffMax {
		return &Error{Key: path + ".backoff_min", Msg: "must not exceed backoff_max"}
	}
	if (d.TLS.CertFile == "") != (d.TLS.KeyFile == "") {
		return &Error{Key: path + ".tls.cert_file", Msg: "cert_file and key_file go together"}
	}
	return nil
}

// intField and durationField are a setting and its key, in a list that
// Validate walks in order: the first error it reports is the same on
// every run, as a map's order would not make it.
type (
	intField struct {
		key string
		v   int
	}
	durationField struct {
		key string
		v   Duration
	}
)

// Duration is a time.Duration spelled as Go does ("10s", "1m30s").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String spells the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }

var (
	durationType    = reflect.TypeOf(Duration(0))
	stdDurationType = reflect.TypeOf(time.Duration(0)) // in sections of other packages (the signer's)
)

// decodeYAML walks the document against the Config type first, so that an
// unknown key or a bad value is reported with its dotted path and line
// rather than yaml's Go type names, and only then decodes it.
func decodeYAML(b []byte, cfg *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return &Error{Msg: "YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return setNode(reflect.ValueOf(cfg).Elem(), doc.Content[0], "")
}

func setNode(v reflect.Value, n *yaml.Node, path string) error {
	at := func(msg string) error {
		return &Error{Key: path, Msg: fmt.Sprintf("%s (line %d)", msg, n.Line)}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			return at("expected a duration such as 10s or 1m30s")
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return at(fmt.Sprintf("%q is not a duration (use 10s, 1m30s, 2h)", n.Value))
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return at("expected a mapping of keys")
		}
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			fields[yamlKey(v.Type().Field(i))] = i
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			child := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				sort.Strings(known)
				return &Error{Key: child, Msg: fmt.Sprintf("unknown key (line %d); known keys here: %s", k.Line, strings.Join(known, ", "))}
			}
			if err := setNode(v.Field(idx), val, child); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		switch n.Kind {
		case yaml.SequenceNode:
			s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
			for i, item := range n.Content {
				if err := setNode(s.Index(i), item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			v.Set(s)
			return nil
		case yaml.ScalarNode: // "a:1,b:2" is accepted like the environment spells it
			return setScalar(v, n.Value, func(msg string) error { return at(msg) })
		}
		return at("expected a list")
	default:
		if n.Kind != yaml.ScalarNode {
			return at("expected a single value")
		}
		return setScalar(v, n.Value, func(msg string) error { return at(msg) })
	}
}

func setScalar(v reflect.Value, s string, fail func(string) error) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fail(fmt.Sprintf("%q is not true or false", s))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v.Type() == durationType || v.Type() == stdDurationType {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fail(fmt.Sprintf("%q is not a duration (use 10s, 1m30s, 2h)", s))
			}
			v.SetInt(int64(d))
			return nil
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fail(fmt.Sprintf("%q is not a whole number", s))
		}
		v.SetInt(i)
	case reflect.Slice:
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		if v.Type().Elem() == durationType {
			ds := make([]Duration, len(items))
			for i, it := range items {
				d, err := time.ParseDuration(it)
				if err != nil {
					return fail(fmt.Sprintf("%q is not a duration (use 10s, 1m30s, 2h)", it))
				}
				ds[i] = Duration(d)
			}
			v.Set(reflect.ValueOf(ds))
			return nil
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fail(fmt.Sprintf("cannot set a %s", v.Kind()))
	}
	return nil
}

// applyEnv sets every field that has an env tag and a non-empty variable.
// A tag may list several names; the first one set wins. A struct field
// tagged envprefix puts that prefix in front of its fields' names, so one
// type serves several registries.
func applyEnv(v reflect.Value, getenv func(string) string, prefix string) error {
	for i := 0; i < v.NumField(); i++ {
		f, fv := v.Type().Field(i), v.Field(i)
		if tag := f.Tag.Get("env"); tag != "" {
			for _, name := range strings.Split(tag, ",") {
				name = prefix + name
				val := getenv(name)
				if val == "" {
					continue
				}
				if err := setScalar(fv, val, func(msg string) error { return &Error{Key: name, Msg: msg} }); err != nil {
					return err
				}
				break
			}
			continue
		}
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			if err := applyEnv(fv, getenv, prefix+f.Tag.Get("envprefix")); err != nil {
				return err
			}
		}
	}
	return nil
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// EnvVars lists every environment variable the configuration reads, with
// its key and description, for `--help` and for checks of deployment files.
func EnvVars() []EnvVar {
	var out []EnvVar
	var walk func(t reflect.Type, path, prefix string)
	walk = func(t reflect.Type, path, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := join(path, yamlKey(f))
			if tag := f.Tag.Get("env"); tag != "" {
				for _, name := range strings.Split(tag, ",") {
					out = append(out, EnvVar{Name: prefix + name, Key: key, Doc: f.Tag.Get("doc")})
				}
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key, prefix+f.Tag.Get("envprefix"))
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "", "")
	return out
}

// EnvVar is one environment variable the configuration reads.
type EnvVar struct {
	Name string
	Key  string
	Doc  string
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
