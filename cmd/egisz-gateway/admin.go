package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/dlq/adminapi"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// adminAPI serves the admin API on its own listener when admin.enabled: a
// listener apart from /metrics and РЭМД's callback, so that exposing
// those does not expose this.
func adminAPI(deps app.Deps) ([]app.Worker, error) {
	c := deps.Config.Admin
	if !c.Enabled {
		return nil, nil
	}
	users, err := adminapi.LoadUsers(c.UsersFile)
	if err != nil {
		return nil, err
	}
	svc, err := dlq.New(dlq.Config{
		KafkaOpt: deps.KafkaOpt, Prefix: deps.Config.Kafka.TopicPrefix, Catalog: topics.Build(deps.Config.Forward.Retry.TierDelays()),
		ReplayRate: float64(deps.Config.DLQ.ReplayRate), PurgeMinAge: deps.Config.DLQ.PurgeMinAge.D(), Log: deps.Log,
	})
	if err != nil {
		return nil, err
	}
	return []app.Worker{&adminWorker{svc: svc, api: adminapi.New(svc, users, deps.Log, deps.Metrics), deps: deps}}, nil
}

type adminWorker struct {
	svc  *dlq.Service
	api  *adminapi.API
	deps app.Deps

	mu   sync.Mutex
	addr string // where it listens, once it does
}

func (w *adminWorker) Name() string { return "admin-api" }

func (w *adminWorker) Ready() error {
	if w.Addr() == "" {
		return errors.New("admin API not yet listening")
	}
	return nil
}

// Addr is where the API listens; empty until it does.
func (w *adminWorker) Addr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.addr
}

func (w *adminWorker) Run(ctx context.Context) error {
	defer w.svc.Close()
	c := w.deps.Config.Admin
	o := adminapi.Options{Listen: c.Listen, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, ClientCAFile: c.TLS.ClientCAFile}
	return adminapi.Serve(ctx, o, w.api, func(addr string) {
		w.mu.Lock()
		w.addr = addr
		w.mu.Unlock()
		scheme := "http"
		if c.TLS.CertFile != "" {
			scheme = "https"
		}
		w.deps.Log.Info("admin API listening", "url", fmt.Sprintf("%s://%s%s", scheme, addr, adminapi.Base))
	})
}
