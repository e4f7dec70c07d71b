package main

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/frmo"
	"github.com/egisz-gateway/egisz-gateway/adapters/frmr"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/infosys"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestFeedDecoderRefusesAKeyThatDisagrees: a reference record is taken
// under the key its content names; one keyed by another СНИЛС or OID is
// skipped (it would set the content's key and leave its own to a
// tombstone), and a tombstone deletes the key it names.
func TestFeedDecoderRefusesAKeyThatDisagrees(t *testing.T) {
	opts := source.DefaultOptions()
	normSNILS := func(k string) string {
		if d, err := ident.NormalizeSNILS(k); err == nil {
			return d
		}
		return k
	}
	employees := feedDecoder[*topics.Employee](frmr.NewEmployees(opts), normSNILS)
	organizations := feedDecoder[*topics.Organization](frmo.NewOrganizations(opts), func(k string) string { return k })
	systems := feedDecoder[*topics.InformationSystem](infosys.NewSystems(opts), func(k string) string { return k })
	employee, organization, system := topics.Example("employee.json"), topics.Example("organization.json"), topics.Example("information_system.json")
	for _, tc := range []struct {
		name   string
		decode func(key, value []byte) (string, bool)
		key    string
		value  []byte
		wantK  string
		wantOK bool
	}{
		{"employee under its СНИЛС", dec(employees), "12345678964", employee, "12345678964", true},
		{"employee under its СНИЛС spelled with separators", dec(employees), "123-456-789 64", employee, "12345678964", true},
		{"employee under another СНИЛС", dec(employees), "11223344595", employee, "", false},
		{"employee tombstone", dec(employees), "112-233-445 95", nil, "11223344595", true},
		{"organization under its OID", dec(organizations), "1.2.643.5.1.13.13.12.1.42.202", organization, "1.2.643.5.1.13.13.12.1.42.202", true},
		{"organization under another OID", dec(organizations), "1.2.643.5.1.13.13.12.1.42.999", organization, "", false},
		{"system under its ce_source", dec(systems), "1.2.643.5.1.13.13.12.1.42.202", system, "1.2.643.5.1.13.13.12.1.42.202", true},
		{"system under another ce_source", dec(systems), "other-mis", system, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := tc.decode([]byte(tc.key), tc.value)
			if k != tc.wantK || ok != tc.wantOK {
				t.Errorf("decoded key %q ok %v, want %q %v", k, ok, tc.wantK, tc.wantOK)
			}
		})
	}
}

// dec drops the value a feed decoder returns.
func dec[V any](d func(key, value []byte, headers map[string]string) (string, V, bool)) func(key, value []byte) (string, bool) {
	return func(key, value []byte) (string, bool) {
		k, _, ok := d(key, value, nil)
		return k, ok
	}
}

// TestFeedSystemsTopicMissingTurnsTheCheckOff: a deployment upgraded
// without `topics ensure` has no systems topic; the stage must not wait
// for its table for ever: the check goes off with a warning. It waits out
// kafkaclient.OffsetsWait (a minute), as for a topic just created.
func TestFeedSystemsTopicMissingTurnsTheCheckOff(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logged testtool.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	refs := references{
		systemsAbsent: &atomic.Bool{},
		systems: reftable.New("systems", topics.InfoSystems,
			feedDecoder[*topics.InformationSystem](infosys.NewSystems(source.DefaultOptions()), func(k string) string { return k }), log),
	}
	if refs.systems.Ready() == nil {
		t.Fatal("the table is ready before it ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runSystems(ctx, refs, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, log); err != nil {
		t.Fatalf("runSystems: %v", err)
	}
	if !refs.systemsAbsent.Load() || refs.Systems() != 0 {
		t.Fatalf("absent %v, systems %d", refs.systemsAbsent.Load(), refs.Systems())
	}
	if !strings.Contains(logged.String(), "topics ensure") {
		t.Errorf("no warning naming topics ensure:\n%s", logged.String())
	}
}
