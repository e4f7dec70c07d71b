package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/destination"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsserver"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// registry answers the forward stage with the destination adapters.
type registry struct {
	name topics.Registry
	cls  destination.Classifier
	cat  *reasons.Catalog
}

func newRegistry(name topics.Registry) registry {
	return registry{name: name, cls: destination.NewClassifier(), cat: reasons.Default()}
}

func (r registry) Build(value []byte, ceID, callbackURL string) (forward.Call, error) {
	ev, _, err := topics.SplitOutboundWith(value, json.Unmarshal)
	if err != nil {
		return forward.Call{}, err
	}
	c, err := destination.Build(r.name, ev, ceID, callbackURL)
	if err != nil {
		return forward.Call{}, err
	}
	return forward.Call{Method: c.Method, Path: c.Path, Body: c.Body, IdempotencyKey: c.IdempotencyKey}, nil
}

func (r registry) Classify(call forward.Call, status int, retryAfter string, body []byte) forward.Outcome {
	if call.Lookup {
		return outcome(r.cls.ClassifyLookup(status, retryAfter, body))
	}
	return outcome(r.cls.Classify(status, retryAfter, body, r.Async()))
}

func (r registry) TransportFailure(err error) forward.Outcome {
	return outcome(r.cls.TransportFailure(err))
}

func (r registry) Lookup(call forward.Call) (forward.Call, bool) {
	c, ok := destination.Lookup(r.name, destination.Call{Method: call.Method, Path: call.Path, Body: call.Body, IdempotencyKey: call.IdempotencyKey})
	if !ok {
		return forward.Call{}, false
	}
	return forward.Call{Method: c.Method, Path: c.Path, IdempotencyKey: c.IdempotencyKey, Lookup: true}, true
}

func (r registry) Async() bool { return r.name == topics.RegistryREMD }

func (r registry) ParseCallback(body []byte) (forward.CallbackResult, error) {
	cb, err := r.cls.ParseCallback(body)
	if err != nil {
		return forward.CallbackResult{}, err
	}
	return forward.CallbackResult{RequestID: cb.RequestID, Registered: cb.Registered, RegistryID: cb.EMDRID, Reasons: cb.Reasons, Retry: cb.Retry}, nil
}

func (r registry) Reason(code string) topics.Reason {
	rs := r.cat.Resolve(code)
	return topics.Reason{Code: rs.Code, Owner: string(rs.Owner), Retryable: rs.Retryable(), MessageRU: rs.RU, MessageEN: rs.EN}
}

func outcome(o destination.Outcome) forward.Outcome {
	return forward.Outcome{Result: forward.Result(o.Result), RegistryID: o.RegistryID, Reasons: o.Reasons,
		RetryAfter: o.RetryAfter, HTTPStatus: o.HTTPStatus, Excerpt: o.Excerpt}
}

// forwardStages are the forward workers of the registries that have a URL.
func forwardStages(deps app.Deps) ([]app.Worker, error) {
	m := forward.NewMetrics(deps.Metrics)
	cfg := deps.Config
	var out []app.Worker
	tiers := cfg.Forward.Retry.TierDelays()
	parked := forward.NewParked(cfg.Kafka.TopicPrefix+topics.RetryParkedState, deps.Log).WithClient(deps.KafkaOpt)
	deps.Metrics.MustRegister(parked.Collector())
	out = append(out, parked)
	// served is set once the workers are handed over: before that, an
	// error closes the callback's listener.
	served := false
	var err error
	for _, d := range []struct {
		name topics.Registry
		cfg  config.Destination
	}{{topics.RegistryREMD, cfg.Forward.REMD}, {topics.RegistryIEMK, cfg.Forward.IEMK}, {topics.RegistryERX, cfg.Forward.ERX}} {
		if d.cfg.URL == "" {
			deps.Log.Warn("forwarding disabled: no URL; its outbound records wait in Kafka",
				"registry", d.name, "key", "forward."+string(d.name)+".url", "env", "EGISZ_FORWARD_"+strings.ToUpper(string(d.name))+"_URL")
			continue
		}
		// РЭМД's callback has a listener of its own, bound first: the
		// callback URL the stage sends names its address.
		var (
			callback    *tlsserver.Server
			callbackURL string
		)
		if d.name == topics.RegistryREMD {
			cb := cfg.Forward.Callback
			callback, err = tlsserver.Listen(tlsserver.Options{Listen: cb.Listen, CertFile: cb.TLS.CertFile, KeyFile: cb.TLS.KeyFile,
				ClientCAFile: cb.TLS.ClientCAFile, ClientNames: cb.TLS.ClientNames})
			if err != nil {
				return nil, fmt.Errorf("РЭМД callback endpoint (forward.remd_callback): %w", err)
			}
			defer func() {
				if !served {
					callback.Close()
				}
			}()
			if callbackURL = cb.URL; callbackURL == "" {
				callbackURL = "https://" + callback.Addr() + pending.CallbackPath
			}
		}
		st, err := forward.New(forward.Config{
			Registry: d.name, Catalog: deps.Catalog, Prefix: cfg.Kafka.TopicPrefix, InstanceID: cfg.Instance,
			Dest: d.cfg, Callback: cfg.Forward.Callback, CallbackURL: callbackURL,
			ClientOpts: deps.KafkaOpt, KafkaMetrics: deps.KafkaMetrics, Metrics: m, DLQ: deps.DLQ, Log: deps.Log,
			Tiers: tiers, Parked: parked, OrderByPatient: cfg.Forward.Retry.OrderBy == "patient",
		}, newRegistry(d.name))
		if err != nil {
			return nil, err
		}
		parked.Expect(string(d.name))
		if callback != nil {
			srv, err := pending.NewCallbackServer(callback, st.Callback())
			if err != nil {
				return nil, err
			}
			audit, err := dlq.New(dlq.Config{KafkaOpt: deps.KafkaOpt, Prefix: cfg.Kafka.TopicPrefix, Catalog: topics.Build(tiers), Log: deps.Log})
			if err != nil {
				return nil, fmt.Errorf("РЭМД callback endpoint: audit log writer: %w", err)
			}
			srv.AuditRefusals(func(ctx context.Context, source, reason string, count int) error {
				return audit.Audit(ctx, dlq.Actor{Name: "unauthenticated", Via: "remd-callback " + source},
					topics.AuditRecord{Action: "callback", Filter: "refused: " + reason, Outcome: "denied", Count: count})
			})
			out = append(out, auditedCallback{srv, audit})
			deps.Log.Info("РЭМД callback endpoint listening (mTLS)", "url", "https://"+srv.Addr()+pending.CallbackPath, "sent_to_remd", callbackURL)
		}
		u, _ := url.Parse(d.cfg.URL)
		deps.Log.Info("forwarding", "registry", d.name, "host", u.Host, "concurrency", d.cfg.Concurrency, "rate_per_minute", d.cfg.RatePerMinute)
		out = append(out, st)
		for _, t := range st.Tiers() {
			out = append(out, t)
		}
	}
	served = true
	return out, nil
}

// auditedCallback is РЭМД's callback server with the audit log writer of
// its refusals, closed when the server stops.
type auditedCallback struct {
	*pending.CallbackServer
	audit *dlq.Service
}

func (a auditedCallback) Run(ctx context.Context) error {
	defer a.audit.Close()
	return a.CallbackServer.Run(ctx)
}
