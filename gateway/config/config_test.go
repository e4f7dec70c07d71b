package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/secret"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsNeedNothing(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load with nothing set = %+v, want the defaults", cfg)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9464" || cfg.Dev.BrokerListen != "127.0.0.1:9092" {
		t.Fatalf("defaults must listen on loopback: %+v", cfg)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := writeFile(t, `
kafka:
  brokers: [kafka-1:9093, kafka-2:9093]
  replication_factor: 3
  dial_timeout: 3s
  tls:
    enabled: true
    ca_file: /etc/egisz/ca.pem
  sasl:
    mechanism: SCRAM-SHA-512
    username: gateway
http:
  listen: 0.0.0.0:9464
forward:
  remd:
    url: https://remd.example/api
    rate_per_minute: 50
    ips:
      client_entity_id: 9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b
      signer:
        kind: cryptopro-dss
        cryptopro_dss:
          url: https://dss.example/SignServer/rest/api
          token_url: https://dss.example/STS/oauth/token
          client_id: egisz-gateway
          client_secret: {file: /run/secrets/dss-client-secret}
          request_timeout: 20s
      inbound_trust: [/etc/egisz/ips-ca.pem]
  iemk:
    url: http://iemk.example
  remd_callback:
    listen: 0.0.0.0:9466
    tls:
      cert_file: /etc/egisz/callback.pem
      key_file: /etc/egisz/callback.key
      client_ca_file: /etc/egisz/remd-ca.pem
shutdown_timeout: 20s
`)
	cfg, err := Load(path, env(map[string]string{
		"EGISZ_KAFKA_BROKERS":                  "k1:9092,k2:9092",
		"EGISZ_LOG_LEVEL":                      "debug",
		"EGISZ_SHUTDOWN_TIMEOUT":               "5s",
		"EGISZ_FORWARD_IEMK_URL":               "http://iemk.local:8080",
		"EGISZ_FORWARD_REMD_TLS_CERT_FILE":     "/etc/egisz/remd.pem",
		"EGISZ_FORWARD_REMD_TLS_KEY_FILE":      "/etc/egisz/remd.key",
		"EGISZ_RETRY_TIERS":                    "10s, 1m",
		"EGISZ_REMD_CALLBACK_TLS_CLIENT_NAMES": "remd.egisz.rosminzdrav.ru",
		"EGISZ_FORWARD_REMD_IPS_TO":            "http://ips.rosminzdrav.ru/remd",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Kafka.Brokers = []string{"k1:9092", "k2:9092"} // the environment wins
	want.Kafka.ReplicationFactor = 3
	want.Kafka.DialTimeout = Duration(3 * time.Second)
	want.Kafka.TLS = TLS{Enabled: true, CAFile: "/etc/egisz/ca.pem"}
	want.Kafka.SASL = SASL{Mechanism: "SCRAM-SHA-512", Username: "gateway"}
	want.HTTP.Listen = "0.0.0.0:9464"
	want.Log.Level = "debug"
	want.Shutdown = Duration(5 * time.Second)
	want.Forward.REMD.URL, want.Forward.REMD.RatePerMinute = "https://remd.example/api", 50
	want.Forward.REMD.TLS = ClientTLS{CertFile: "/etc/egisz/remd.pem", KeyFile: "/etc/egisz/remd.key"}
	want.Forward.REMD.IPS = IPS{To: "http://ips.rosminzdrav.ru/remd", ClientEntityID: "9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
		Signer: signerconfig.Config{Kind: signerconfig.KindCryptoProDSS, DSS: signerconfig.DSS{URL: "https://dss.example/SignServer/rest/api",
			TokenURL: "https://dss.example/STS/oauth/token", ClientID: "egisz-gateway", ClientSecret: secret.Source{File: "/run/secrets/dss-client-secret"},
			RequestTimeout: 20 * time.Second}},
		InboundTrust: []string{"/etc/egisz/ips-ca.pem"}}
	want.Forward.IEMK.URL = "http://iemk.local:8080" // the registry's own variable wins over the file
	want.Forward.Retry.Tiers = []Duration{Duration(10 * time.Second), Duration(time.Minute)}
	want.Forward.Callback.Listen = "0.0.0.0:9466"
	want.Forward.Callback.TLS = CallbackTLS{CertFile: "/etc/egisz/callback.pem", KeyFile: "/etc/egisz/callback.key",
		ClientCAFile: "/etc/egisz/remd-ca.pem", ClientNames: []string{"remd.egisz.rosminzdrav.ru"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestKafkaBrokersAlias(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"KAFKA_BROKERS": "b:9092"}))
	if err != nil || !reflect.DeepEqual(cfg.Kafka.Brokers, []string{"b:9092"}) {
		t.Fatalf("KAFKA_BROKERS: %v %v", cfg.Kafka.Brokers, err)
	}
}

func TestMistakesNameTheKey(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		env     map[string]string
		wantKey string
		wantMsg string
	}{
		{"unknown key", "kafka:\n  brokrs: [a:1]\n", nil, "kafka.brokrs", "unknown key (line 2); known keys here: brokers,"},
		{"unknown top-level key", "kafak: {}\n", nil, "kafak", "unknown key (line 1)"},
		{"bad duration in file", "shutdown_timeout: 10 seconds\n", nil, "shutdown_timeout", `"10 seconds" is not a duration`},
		{"bad duration in env", "", map[string]string{"EGISZ_KAFKA_DIAL_TIMEOUT": "soon"}, "EGISZ_KAFKA_DIAL_TIMEOUT", `"soon" is not a duration`},
		{"bad number", "kafka:\n  replication_factor: three\n", nil, "kafka.replication_factor", `"three" is not a whole number`},
		{"bad bool in env", "", map[string]string{"EGISZ_KAFKA_TLS": "yes please"}, "EGISZ_KAFKA_TLS", "is not true or false"},
		{"mapping where a value belongs", "http:\n  listen: {a: b}\n", nil, "http.listen", "expected a single value"},
		{"broker without port", "", map[string]string{"EGISZ_KAFKA_BROKERS": "kafka"}, "kafka.brokers", `"kafka" is not host:port`},
		{"unknown sasl mechanism", "kafka:\n  sasl:\n    mechanism: GSSAPI\n    username: u\n", nil, "kafka.sasl.mechanism", "GSSAPI"},
		{"PLAIN without TLS", "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: u\n", nil, "kafka.sasl.mechanism", "sends the password in clear"},
		{"cert without key", "kafka:\n  tls:\n    cert_file: c.pem\n", nil, "kafka.tls.cert_file", "go together"},
		{"zero replication", "kafka:\n  replication_factor: 0\n", nil, "kafka.replication_factor", "positive"},
		{"log level", "log:\n  level: verbose\n", nil, "log.level", "verbose"},
		{"not yaml", "kafka: [\n", nil, "", "YAML:"},
		{"registry URL", "", map[string]string{"EGISZ_FORWARD_ERX_URL": "erx.local"}, "forward.erx.url", "not an http or https URL"},
		{"negative quota", "forward:\n  remd:\n    rate_per_minute: -5\n", nil, "forward.remd.rate_per_minute", "0 (no quota) or more"},
		{"РЭМД without the callback's mTLS", "", map[string]string{"EGISZ_FORWARD_REMD_URL": "https://remd.example"}, "forward.remd_callback.tls.cert_file", "mTLS only"},
		{"РЭМД without a client CA", "", map[string]string{"EGISZ_FORWARD_REMD_URL": "https://remd.example",
			"EGISZ_REMD_CALLBACK_TLS_CERT_FILE": "c.pem", "EGISZ_REMD_CALLBACK_TLS_KEY_FILE": "c.key"}, "forward.remd_callback.tls.client_ca_file", "mTLS only"},
		{"callback listen without port", "", map[string]string{"EGISZ_FORWARD_REMD_URL": "https://remd.example", "EGISZ_REMD_CALLBACK_LISTEN": "gateway"}, "forward.remd_callback.listen", "not host:port"},
		{"no orphans allowed", "", map[string]string{"EGISZ_REMD_MAX_ORPHANS": "0"}, "forward.remd_callback.max_orphans", "1 or more"},
		{"a source over the total", "", map[string]string{"EGISZ_REMD_MAX_ORPHAN_BYTES": "1000", "EGISZ_REMD_MAX_ORPHAN_BYTES_PER_SOURCE": "2000"}, "forward.remd_callback.max_orphan_bytes_per_source", "must not exceed"},
		{"no concurrency", "", map[string]string{"EGISZ_FORWARD_IEMK_CONCURRENCY": "0"}, "forward.iemk.concurrency", "1 or more"},
		{"backoff upside down", "forward:\n  erx:\n    backoff_min: 10s\n    backoff_max: 1s\n", nil, "forward.erx.backoff_min", "backoff_max"},
		{"registry cert without key", "forward:\n  remd:\n    tls:\n      cert_file: c.pem\n", nil, "forward.remd.tls.cert_file", "go together"},
		{"callback wait", "forward:\n  remd_callback:\n    wait: 0s\n", nil, "forward.remd_callback.wait", "positive"},
		{"tiers shrink", "forward:\n  retry:\n    tiers: [5m, 30s]\n", nil, "forward.retry.tiers[1]", "must grow"},
		{"tier under a second", "", map[string]string{"EGISZ_RETRY_TIERS": "500ms"}, "forward.retry.tiers[0]", "whole seconds"},
		{"tier not a duration", "", map[string]string{"EGISZ_RETRY_TIERS": "30s,soon"}, "EGISZ_RETRY_TIERS", `"soon" is not a duration`},
		{"order by", "forward:\n  retry:\n    order_by: mo\n", nil, "forward.retry.order_by", "dedup, patient"},
		{"negative clock skew", "", map[string]string{"EGISZ_NORMALIZE_CLOCK_SKEW": "-1m"}, "normalize.clock_skew", "from 0 to 24h"},
		{"clock skew of days", "normalize:\n  clock_skew: 48h\n", nil, "normalize.clock_skew", "from 0 to 24h"},
		{"document fetch longer than a transaction allows", "normalize:\n  documents:\n    fetch_timeout: 30s\n", nil, "normalize.documents.fetch_timeout", "from 1s to 10s"},
		{"document fetch without time", "", map[string]string{"EGISZ_NORMALIZE_DOCUMENTS_FETCH_TIMEOUT": "100ms"}, "normalize.documents.fetch_timeout", "from 1s to 10s"},
		{"consent for an unknown kind", "", map[string]string{"EGISZ_CONSENT_REQUIRED_FOR": "case,identity"}, "normalize.consent_required_for", `"identity"`},
		{"consent for a document kind that is no code", "normalize:\n  consent_required_for: [\"document:ЭМК\"]\n", nil, "normalize.consent_required_for", "СЭМД kind code"},
		{"СНИЛС for a kind that is no code", "", map[string]string{"EGISZ_SNILS_REQUIRED_FOR": "34,epicrisis"}, "normalize.snils_required_for", `"epicrisis"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(path, env(tc.env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load() = %v, want a *config.Error", err)
			}
			if ce.Key != tc.wantKey || !strings.Contains(ce.Msg, tc.wantMsg) {
				t.Fatalf("Load() = key %q msg %q; want key %q and a message containing %q", ce.Key, ce.Msg, tc.wantKey, tc.wantMsg)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestSASLPlainNeedsTLSOrConsent: PLAIN runs over TLS, or without it only
// when allow_plaintext says so; SCRAM never sends the password itself.
func TestSASLPlainNeedsTLSOrConsent(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"PLAIN over TLS", map[string]string{"EGISZ_KAFKA_SASL_MECHANISM": "PLAIN", "EGISZ_KAFKA_SASL_USERNAME": "u", "EGISZ_KAFKA_TLS": "true"}, true},
		{"PLAIN in clear", map[string]string{"EGISZ_KAFKA_SASL_MECHANISM": "PLAIN", "EGISZ_KAFKA_SASL_USERNAME": "u"}, false},
		{"PLAIN in clear, allowed", map[string]string{"EGISZ_KAFKA_SASL_MECHANISM": "PLAIN", "EGISZ_KAFKA_SASL_USERNAME": "u", "EGISZ_KAFKA_SASL_ALLOW_PLAINTEXT": "true"}, true},
		{"SCRAM in clear", map[string]string{"EGISZ_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "EGISZ_KAFKA_SASL_USERNAME": "u"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", env(tc.env))
			if (err == nil) != tc.ok {
				t.Errorf("Load: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, "# nothing yet\n"), env(nil))
	if err != nil || !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("empty file: %+v %v", cfg, err)
	}
}

func TestEnvVarsListed(t *testing.T) {
	names := map[string]string{}
	for _, v := range EnvVars() {
		names[v.Name] = v.Key
	}
	for name, key := range map[string]string{
		"EGISZ_KAFKA_BROKERS": "kafka.brokers", "KAFKA_BROKERS": "kafka.brokers",
		"EGISZ_KAFKA_SASL_PASSWORD_FILE": "kafka.sasl.password_file", "EGISZ_HTTP_LISTEN": "http.listen",
		"EGISZ_FORWARD_REMD_URL": "forward.remd.url", "EGISZ_FORWARD_ERX_RATE_PER_MINUTE": "forward.erx.rate_per_minute",
		"EGISZ_FORWARD_IEMK_TLS_KEY_FILE": "forward.iemk.tls.key_file", "EGISZ_REMD_CALLBACK_URL": "forward.remd_callback.url",
		"EGISZ_NORMALIZE_CLOCK_SKEW":            "normalize.clock_skew",
		"EGISZ_NORMALIZE_DOCUMENTS_TRUST_ROOTS": "normalize.documents.trust_roots", "EGISZ_NORMALIZE_DOCUMENTS_FETCH_TIMEOUT": "normalize.documents.fetch_timeout",
		"EGISZ_CONSENT_REQUIRED_FOR": "normalize.consent_required_for", "EGISZ_CONSENT_SCOPE": "normalize.consent_scope",
		"EGISZ_SNILS_REQUIRED_FOR": "normalize.snils_required_for",
	} {
		if names[name] != key {
			t.Errorf("EnvVars: %s -> %q, want %q", name, names[name], key)
		}
	}
}

func TestAdminAPIChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		key  string // "" when the configuration is fine
	}{
		{"off by default", nil, ""},
		{"on with users on loopback", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u"}, ""},
		{"on without users", map[string]string{"EGISZ_ADMIN_ENABLED": "true"}, "admin.users_file"},
		{"in the open without TLS", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_LISTEN": "10.0.0.5:9465"}, "admin.listen"},
		{"in the open with TLS", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_LISTEN": ":9465",
			"EGISZ_ADMIN_TLS_CERT_FILE": "/c", "EGISZ_ADMIN_TLS_KEY_FILE": "/k"}, ""},
		{"localhost", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_LISTEN": "localhost:9465"}, ""},
		{"certificate without key", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_TLS_CERT_FILE": "/c"}, "admin.tls.cert_file"},
		{"client CA without a server certificate", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_TLS_CLIENT_CA_FILE": "/ca"}, "admin.tls.client_ca_file"},
		{"not host:port", map[string]string{"EGISZ_ADMIN_ENABLED": "true", "EGISZ_ADMIN_USERS_FILE": "/u", "EGISZ_ADMIN_LISTEN": "9465"}, "admin.listen"},
		{"replay rate", map[string]string{"EGISZ_DLQ_REPLAY_RATE": "0"}, "dlq.replay_rate"},
	} {
		_, err := Load("", env(tc.env))
		var ce *Error
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.key != "" && (!errors.As(err, &ce) || ce.Key != tc.key):
			t.Errorf("%s: %v, want an error at %s", tc.name, err, tc.key)
		}
	}
	if cfg := Default(); cfg.Admin.Enabled || cfg.Admin.Listen != "127.0.0.1:9465" {
		t.Errorf("admin API default: enabled %v on %s; want off, on 127.0.0.1:9465", cfg.Admin.Enabled, cfg.Admin.Listen)
	}
}

// TestValidateReportsErrorsInAStableOrder: a configuration with two
// mistakes reports the same one first on every run, whichever settings
// they are (Validate once walked maps, whose order changes between runs).
func TestValidateReportsErrorsInAStableOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"two settings of one registry", func(c *Config) { c.Forward.ERX.MaxBatch, c.Forward.ERX.Concurrency = 0, 0 }, "forward.erx.concurrency"},
		{"two registries", func(c *Config) { c.Forward.ERX.Attempts, c.Forward.REMD.Attempts = 0, 0 }, "forward.remd.attempts"},
		{"two durations", func(c *Config) {
			c.Forward.IEMK.BreakerOpen, c.Forward.IEMK.Timeout = 0, 0
		}, "forward.iemk.timeout"},
		{"two callback bounds", func(c *Config) {
			c.Forward.Callback.KeepDone, c.Forward.Callback.Wait = 0, 0
		}, "forward.remd_callback.wait"},
		{"two orphan bounds", func(c *Config) {
			c.Forward.Callback.MaxOrphanBytesPerSource, c.Forward.Callback.MaxOrphans = 0, 0
		}, "forward.remd_callback.max_orphans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				c := Default()
				tc.spoil(&c)
				var ce *Error
				if err := c.Validate(); !errors.As(err, &ce) || ce.Key != tc.want {
					t.Fatalf("Validate = %v, want the error at %s first, every time", err, tc.want)
				}
			}
		})
	}
}

// TestRegistriesAreTheCatalogs: every registry of the topic catalog has
// its settings, in the catalog's order, and Default gives each the
// default destination.
func TestRegistriesAreTheCatalogs(t *testing.T) {
	c := Default()
	rs := c.Forward.Registries()
	if len(rs) != len(topics.Registries) {
		t.Fatalf("%d registries configured, the catalog has %d", len(rs), len(topics.Registries))
	}
	for i, r := range rs {
		if r.Name != topics.Registries[i] || r.Key != "forward."+string(r.Name) {
			t.Errorf("row %d is %s (%s), want %s", i, r.Name, r.Key, topics.Registries[i])
		}
		if !reflect.DeepEqual(*r.Dest, DefaultDestination()) {
			t.Errorf("%s: default %+v, want DefaultDestination()", r.Name, *r.Dest)
		}
		r.Dest.URL = "https://" + string(r.Name) + ".example"
	}
	if c.Forward.REMD.URL != "https://remd.example" || c.Forward.ERX.URL != "https://erx.example" {
		t.Errorf("Registries does not point into the configuration: %q, %q", c.Forward.REMD.URL, c.Forward.ERX.URL)
	}
}

func TestConfigurableRulesAreOffByDefaultAndParse(t *testing.T) {
	d := Default().Normalize
	if len(d.ConsentRequiredFor) != 0 || d.ConsentScope != "" || len(d.SNILSRequiredFor) != 0 {
		t.Fatalf("rules on by default: %+v", d)
	}
	cfg, err := Load("", env(map[string]string{"EGISZ_CONSENT_REQUIRED_FOR": "case,document:34", "EGISZ_CONSENT_SCOPE": "egisz-exchange", "EGISZ_SNILS_REQUIRED_FOR": "34,5"}))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Normalize
	if !reflect.DeepEqual(n.ConsentRequiredFor, []string{"case", "document:34"}) || n.ConsentScope != "egisz-exchange" || !reflect.DeepEqual(n.SNILSRequiredFor, []string{"34", "5"}) {
		t.Errorf("parsed %+v", n)
	}
}

// РЭМД is spoken to through ИПС: with its URL set, its ИПС settings are
// required and checked, each mistake named by its key; set in full they
// are read from the file and the environment.
func TestREMDNeedsItsIPSSettings(t *testing.T) {
	base := map[string]string{"EGISZ_FORWARD_REMD_URL": "https://ips.example/remd",
		"EGISZ_REMD_CALLBACK_TLS_CERT_FILE": "c.pem", "EGISZ_REMD_CALLBACK_TLS_KEY_FILE": "c.key", "EGISZ_REMD_CALLBACK_TLS_CLIENT_CA_FILE": "ca.pem"}
	const guid = "9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	signer := "forward:\n  remd:\n    ips:\n      signer:\n        kind: local\n        local:\n          key_file: k.pem\n          cert_file: c.pem\n"
	full := signer + "      inbound_trust: [remd-ca.pem]\n"
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		file    string
		env     map[string]string
		wantKey string // empty: valid
		wantMsg string
	}{
		{"no client entity id", full, base, "forward.remd.ips.client_entity_id", "required"},
		{"a client entity id that is no GUID", full, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", "mis-42"), "forward.remd.ips.client_entity_id", "not a GUID"},
		{"a GUID one digit short", full, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid[:35]), "forward.remd.ips.client_entity_id", "not a GUID"},
		{"no signer", "forward:\n  remd:\n    ips:\n      inbound_trust: [remd-ca.pem]\n", with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid), "forward.remd.ips.signer.kind", "required"},
		{"a signer without its key", "forward:\n  remd:\n    ips:\n      signer:\n        kind: local\n      inbound_trust: [remd-ca.pem]\n", with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid), "forward.remd.ips.signer", "key_file and cert_file"},
		{"an unknown signer", "forward:\n  remd:\n    ips:\n      signer:\n        kind: hsm\n      inbound_trust: [remd-ca.pem]\n", with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid), "forward.remd.ips.signer", `unknown kind "hsm"`},
		{"no inbound trust", signer, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid), "forward.remd.ips.inbound_trust", "every one is refused"},
		{"a To that is no URL", full, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid, "EGISZ_FORWARD_REMD_IPS_TO", "remd"), "forward.remd.ips.to", "not an absolute URL"},
		{"all set", full, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", strings.ToUpper(guid)), "", ""},
		{"all set, trust from the environment", signer, with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid, "EGISZ_FORWARD_REMD_IPS_INBOUND_TRUST", "a.pem, b.pem"), "", ""},
		{"all set from the environment", "", with("EGISZ_FORWARD_REMD_IPS_CLIENT_ENTITY_ID", guid, "EGISZ_FORWARD_REMD_IPS_INBOUND_TRUST", "a.pem",
			"EGISZ_FORWARD_REMD_IPS_SIGNER_KIND", "local", "EGISZ_FORWARD_REMD_IPS_SIGNER_LOCAL_KEY_FILE", "k.pem", "EGISZ_FORWARD_REMD_IPS_SIGNER_LOCAL_CERT_FILE", "c.pem"), "", ""},
		{"РЭМД off: nothing required", "", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			cfg, err := Load(path, env(tc.env))
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("Load() = %v, want valid", err)
				}
				if ips := cfg.Forward.REMD.IPS; tc.env != nil && (ips.Signer.Kind != "local" || ips.Signer.Local.KeyFile != "k.pem" || len(ips.InboundTrust) == 0 || ips.WSATo(cfg.Forward.REMD.URL) != "https://ips.example/remd") {
					t.Fatalf("read %+v", ips)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load() = %v, want a *config.Error", err)
			}
			if ce.Key != tc.wantKey || !strings.Contains(ce.Msg, tc.wantMsg) {
				t.Fatalf("Load() = key %q msg %q; want key %q and a message containing %q", ce.Key, ce.Msg, tc.wantKey, tc.wantMsg)
			}
		})
	}
	if got := (IPS{To: "http://ips.rosminzdrav.ru/remd"}).WSATo("https://proxy.local/remd"); got != "http://ips.rosminzdrav.ru/remd" {
		t.Errorf("WSATo = %q, want the configured To", got)
	}
}
