package topics_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestEnsureCreatesThenDoesNothingThenReportsDrift(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	adm := kc.Admin(t)
	cat := topics.Default().WithPrefix(kc.Prefix)

	rep, err := topics.Ensure(ctx, adm, cat, -1)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	if len(rep.Created) != len(cat) || len(rep.Present) != 0 {
		t.Fatalf("first Ensure created %d and found %d, want %d created", len(rep.Created), len(rep.Present), len(cat))
	}
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), cat.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, cat.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range cat {
		if got := len(details[tp.Name].Partitions); got != int(tp.Partitions) {
			t.Errorf("%s: %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
		rc, err := configs.On(tp.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.MaybeValue() != string(tp.Cleanup) {
				t.Errorf("%s: cleanup.policy %s, want %s", tp.Name, c.MaybeValue(), tp.Cleanup)
			}
		}
	}

	rep, err = topics.Ensure(ctx, adm, cat, -1)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if len(rep.Created) != 0 || len(rep.Present) != len(cat) {
		t.Fatalf("second Ensure created %v; want nothing created and all %d present (got %d)", rep.Created, len(cat), len(rep.Present))
	}
}

func TestEnsureReportsDrift(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	adm := kc.Admin(t)
	cat := topics.Default().WithPrefix(kc.Prefix)
	caseTopic, _ := cat.Lookup(kc.Prefix + topics.RMISCase)
	frmo, _ := cat.Lookup(kc.Prefix + topics.FRMOOrganization)
	status, _ := cat.Lookup(kc.Prefix + topics.StatusTopic)
	dlqIn, _ := cat.Lookup(kc.Prefix + topics.DLQIngress)

	// An older release created the dead-letter topic with the broker's
	// size limit: Ensure raises it in place, as it is no drift to refuse.
	if _, err := adm.CreateTopic(ctx, dlqIn.Partitions, -1, topics.TopicConfigs(topics.Topic{Cleanup: dlqIn.Cleanup, Retention: dlqIn.Retention, MaxMessageBytes: 500_000}), dlqIn.Name); err != nil {
		t.Fatal(err)
	}
	// An operator created these by hand, wrongly.
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, caseTopic.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, frmo.Partitions, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, frmo.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, status.Partitions, -1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, status.Name); err != nil {
		t.Fatal(err)
	}

	rep, err := topics.Ensure(ctx, adm, cat, -1)
	if err == nil {
		t.Fatal("Ensure accepted drifted topics")
	}
	var d topics.Drift
	if !errors.As(err, &d) {
		t.Fatalf("error %v carries no Drift", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"topic " + caseTopic.Name + ": partitions is 2 on the cluster, the catalog says 6",
		"topic " + frmo.Name + ": cleanup.policy is delete on the cluster, the catalog says compact",
		"topic " + status.Name + ": retention.ms is 3600000 on the cluster, the catalog says 2592000000",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("drift error lacks %q:\n%s", want, msg)
		}
	}
	if len(rep.Created) != len(cat)-4 {
		t.Errorf("created %d topics, want the %d others", len(rep.Created), len(cat)-4)
	}
	if strings.Contains(msg, dlqIn.Name) || !slices.Contains(rep.Raised, dlqIn.Name) || !slices.Contains(rep.Raised, caseTopic.Name) {
		t.Errorf("size limits: raised %v, error %s; want %s and %s raised, not drift", rep.Raised, msg, dlqIn.Name, caseTopic.Name)
	}
	// A broker applies an altered config when the controller's record
	// reaches it: the describe may answer the old value for a moment.
	have := ""
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		described, err := adm.DescribeTopicConfigs(ctx, dlqIn.Name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := described.On(dlqIn.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" {
				have = c.MaybeValue()
			}
		}
		if have == strconv.Itoa(topics.ParkedRecordBytes) || time.Now().After(deadline) {
			break
		}
	}
	if have != strconv.Itoa(topics.ParkedRecordBytes) {
		t.Errorf("%s: max.message.bytes %s after Ensure, want %d", dlqIn.Name, have, topics.ParkedRecordBytes)
	}
}

// TestEnsureReportsALimitItCannotRaise: a principal that may not alter
// topic configs leaves an existing topic's smaller max.message.bytes as it
// is. That is no reason to refuse to start (the stages park what the
// smaller limit refuses): Ensure reports it, with the command that raises
// it, and Limited gives the limits to keep to meanwhile.
func TestEnsureReportsALimitItCannotRaise(t *testing.T) {
	kc := kafkatest.New(t)
	if kc.Fake == nil {
		t.Skip("denies config changes through kfake's control hooks; the real broker's ACLs are not set up by the tests")
	}
	ctx := kafkatest.Context(t, time.Minute)
	adm := kc.Admin(t)
	cat := topics.Default().WithPrefix(kc.Prefix)
	status, _ := cat.Lookup(kc.Prefix + topics.StatusTopic)
	if _, err := adm.CreateTopic(ctx, status.Partitions, -1, topics.TopicConfigs(topics.Topic{Cleanup: status.Cleanup, Retention: status.Retention, MaxMessageBytes: topics.DefaultBatchBytes}), status.Name); err != nil {
		t.Fatal(err)
	}
	kc.Fake.KeepControl()
	deny := func(req kmsg.Request) (kmsg.Response, error, bool) {
		switch req := req.(type) {
		case *kmsg.IncrementalAlterConfigsRequest:
			resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
			for _, r := range req.Resources {
				rr := kmsg.NewIncrementalAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
				resp.Resources = append(resp.Resources, rr)
			}
			return resp, nil, true
		case *kmsg.AlterConfigsRequest:
			resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
			for _, r := range req.Resources {
				rr := kmsg.NewAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
				resp.Resources = append(resp.Resources, rr)
			}
			return resp, nil, true
		}
		return nil, nil, false
	}
	kc.Fake.ControlKey(kmsg.IncrementalAlterConfigs.Int16(), deny)
	kc.Fake.ControlKey(kmsg.AlterConfigs.Int16(), deny)

	rep, err := topics.Ensure(ctx, adm, cat, -1)
	if err != nil {
		t.Fatalf("Ensure refused a limit it could not raise: %v", err)
	}
	if len(rep.TooSmall) != 1 || rep.TooSmall[0].Topic != status.Name {
		t.Fatalf("TooSmall = %v, want %s alone", rep.TooSmall, status.Name)
	}
	d := rep.TooSmall[0]
	if d.Have != topics.DefaultBatchBytes || d.Want != topics.LargeRecordBytes || !errors.Is(d.RaiseErr, kerr.TopicAuthorizationFailed) {
		t.Errorf("drift %+v", d)
	}
	wantCmd := "--entity-name " + status.Name + " --add-config max.message.bytes=" + strconv.Itoa(topics.LargeRecordBytes)
	if !strings.Contains(d.RaiseCommand(), wantCmd) || !strings.Contains(d.String(), d.RaiseCommand()) {
		t.Errorf("command %q lacks %q", d.RaiseCommand(), wantCmd)
	}
	if slices.Contains(rep.Present, status.Name) {
		t.Error("a topic below the catalog's limit reported present")
	}
	limited := cat.Limited(rep.TooSmall)
	if got := limited.BatchMaxBytes(status.Name); got != topics.DefaultBatchBytes {
		t.Errorf("limited catalog gives %s %d, want the cluster's %d", status.Name, got, topics.DefaultBatchBytes)
	}
	if got := cat.BatchMaxBytes(status.Name); got != topics.LargeRecordBytes {
		t.Errorf("Limited changed the catalog it was called on: %d", got)
	}
}
