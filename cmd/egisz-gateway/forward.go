package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/gateway/tlsserver"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

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
	var store *documentStoreWorker
	for _, r := range cfg.Forward.Registries() {
		dest := *r.Dest
		if dest.URL == "" {
			deps.Log.Warn("forwarding disabled: no URL; its outbound records wait in Kafka",
				"registry", r.Name, "key", r.Key+".url", "env", "EGISZ_FORWARD_"+strings.ToUpper(string(r.Name))+"_URL")
			continue
		}
		adapter, err := registryAdapter(context.Background(), r)
		if err != nil {
			return nil, err
		}
		// A registry that fetches the documents it was told about (РЭМД's
		// getDocumentFile) is answered from the document store, which
		// this process indexes, read only, once for every such registry.
		var docs pending.Documents
		if adapter.Capabilities().Files {
			if store == nil {
				if store, err = newDocumentStore(cfg.Kafka.TopicPrefix, deps.KafkaOpt, deps.Log); err != nil {
					return nil, fmt.Errorf("document store for %s's file requests: %w", r.Name, err)
				}
				deps.Metrics.MustRegister(store.Collector())
				out = append(out, store)
			}
			docs = store
		}
		// A registry that answers on a callback (РЭМД) has a listener of
		// its own for it, bound first: the callback URL the stage sends
		// names its address.
		var (
			callback    *tlsserver.Server
			callbackURL string
		)
		if adapter.Capabilities().Callbacks {
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
			Registry: r.Name, Catalog: deps.Catalog, Prefix: cfg.Kafka.TopicPrefix, InstanceID: cfg.Instance,
			Dest: dest, Callback: cfg.Forward.Callback, CallbackURL: callbackURL, Documents: docs,
			ClientOpts: deps.KafkaOpt, KafkaMetrics: deps.KafkaMetrics, Metrics: m, DLQ: deps.DLQ, Log: deps.Log,
			Tiers: tiers, Parked: parked, OrderByPatient: cfg.Forward.Retry.OrderBy == "patient",
		}, adapter)
		if err != nil {
			return nil, err
		}
		parked.Expect(string(r.Name))
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
		u, _ := url.Parse(dest.URL)
		deps.Log.Info("forwarding", "registry", r.Name, "host", u.Host, "concurrency", dest.Concurrency, "rate_per_minute", dest.RatePerMinute)
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
