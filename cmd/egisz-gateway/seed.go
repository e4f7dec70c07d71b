package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// seedReferenceFeeds writes the example ФРМР, ФРМО and information system
// records to the dev broker's reference feeds, so that the example events
// (and the demo traffic) meet a doctor, an organization and a sending
// system the checks know. The feeds
// are compacted: seeding again on a kept data dir changes nothing.
func seedReferenceFeeds(ctx context.Context, brokers []string, log *slog.Logger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("seed reference feeds: %w", err)
	}
	defer cl.Close()
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Default(), 1); err != nil {
		return fmt.Errorf("seed reference feeds: %w", err)
	}
	var recs []*kgo.Record
	for _, name := range topics.ExampleNames() {
		var topic, key string
		switch {
		case strings.HasPrefix(name, "employee"):
			topic, key = topics.FRMREmployee, jsonField(topics.Example(name), "snils")
			if d, err := ident.NormalizeSNILS(key); err == nil {
				key = d
			}
		case strings.HasPrefix(name, "organization"):
			topic, key = topics.FRMOOrganization, jsonField(topics.Example(name), "oid")
		case strings.HasPrefix(name, "information_system"):
			topic, key = topics.InfoSystems, jsonField(topics.Example(name), "ce_source")
		default:
			continue
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: topics.Example(name)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("seed reference feeds: %w", err)
	}
	// An event naming a doctor or organization of one's own is refused
	// until the feeds know them: say where they go and where the recipe is.
	log.Info("reference feeds seeded with the examples; publish your own doctors and organizations to them (README: \"Your own doctors and organizations in dev\")",
		"records", len(recs), "doctors", topics.FRMREmployee+" (key: the СНИЛС)", "organizations", topics.FRMOOrganization+" (key: the OID)", "systems", topics.InfoSystems+" (key: the ce_source)")
	return nil
}

// jsonField reads one top-level string field of an example.
func jsonField(b []byte, field string) string {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return ""
	}
	v, _ := m[field].(string)
	return v
}
