package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Drift is a difference between a topic on the cluster and its catalog row.
type Drift struct {
	Topic string
	What  string // "partitions", "cleanup.policy", "retention.ms", "max.message.bytes"
	Have  string
	Want  string
}

func (d Drift) Error() string {
	return fmt.Sprintf("topic %s: %s is %s on the cluster, the catalog says %s", d.Topic, d.What, d.Have, d.Want)
}

// EnsureReport says what Ensure did.
type EnsureReport struct {
	Created []string // topics created by this call
	Present []string // topics that were there and match the catalog
	Raised  []string // topics whose max.message.bytes was raised to the catalog's
	// TooSmall are topics whose max.message.bytes is below the catalog's
	// and could not be raised (the principal may not alter configs, say).
	// The gateway runs with them: a record between the two limits is
	// parked (OUTPUT_REFUSED / OUTPUT_TOO_LARGE) instead of written. Each
	// says the command that raises it (RaiseCommand).
	TooSmall []SizeDrift
}

// SizeDrift is a topic whose max.message.bytes on the cluster is below the
// catalog's.
type SizeDrift struct {
	Topic    string
	Have     int32 // on the cluster
	Want     int32 // the catalog's
	RaiseErr error // why Ensure could not raise it
}

// RaiseCommand is the command an operator allowed to alter topic configs
// runs to raise the limit (Kafka's own tool; `egisz-gateway topics ensure`
// does the same when its principal may).
func (d SizeDrift) RaiseCommand() string {
	return fmt.Sprintf("kafka-configs.sh --bootstrap-server <brokers> --alter --entity-type topics --entity-name %s --add-config max.message.bytes=%d", d.Topic, d.Want)
}

func (d SizeDrift) String() string {
	return fmt.Sprintf("topic %s: max.message.bytes is %d on the cluster, the catalog says %d; records between the two are parked, not written (could not raise it: %v); raise it: %s",
		d.Topic, d.Have, d.Want, d.RaiseErr, d.RaiseCommand())
}

// Limited returns a copy of c with the limits of the topics in small
// lowered to the cluster's: what a producer and the stages' size checks
// must keep to while the cluster's limit is the smaller.
func (c Catalog) Limited(small []SizeDrift) Catalog {
	if len(small) == 0 {
		return c
	}
	out := make(Catalog, len(c))
	copy(out, c)
	for i, t := range out {
		for _, d := range small {
			if d.Topic == t.Name && d.Have > 0 && d.Have < t.BatchMaxBytes() {
				out[i].MaxMessageBytes = d.Have
			}
		}
	}
	return out
}

// Ensure creates the catalog's missing topics and checks the ones that
// exist. Differences (another partition count, cleanup policy or retention)
// are not repaired: they come back as Drift errors, joined, each naming the
// topic and the difference, because changing partitions or compaction under
// running consumers loses ordering or data and is an operator's decision.
// Calling Ensure again changes nothing. replicationFactor -1 takes the
// broker's default.
func Ensure(ctx context.Context, adm *kadm.Client, c Catalog, replicationFactor int16) (EnsureReport, error) {
	var rep EnsureReport
	if err := c.Validate(); err != nil {
		return rep, err
	}
	details, err := adm.ListTopics(ctx, c.Names()...)
	if err != nil {
		return rep, fmt.Errorf("ensure topics: list topics: %w", err)
	}
	var existing []Topic
	for _, t := range c {
		d, ok := details[t.Name]
		switch {
		case ok && d.Err == nil:
			existing = append(existing, t)
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			created, err := create(ctx, adm, t, replicationFactor)
			if err != nil {
				return rep, err
			}
			if created {
				rep.Created = append(rep.Created, t.Name)
			} else {
				existing = append(existing, t) // another instance created it first
			}
		default:
			return rep, fmt.Errorf("ensure topic %s: %w", t.Name, d.Err)
		}
	}
	if err := WaitUsable(ctx, adm, rep.Created...); err != nil {
		return rep, fmt.Errorf("ensure topics: %w", err)
	}
	if len(existing) == 0 {
		return rep, nil
	}
	drifts, err := checkListed(ctx, adm, existing)
	if err != nil {
		return rep, err
	}
	// A size limit below the catalog's is raised in place: unlike the other
	// differences it changes no record, order or retention, and a topic
	// created before the catalog asked for it would otherwise keep the
	// gateway from starting.
	drifts, err = raiseSizeLimits(ctx, adm, drifts, &rep)
	if err != nil {
		return rep, err
	}
	drifted := map[string]bool{}
	for _, d := range drifts {
		drifted[d.Topic] = true
	}
	for _, d := range rep.TooSmall {
		drifted[d.Topic] = true
	}
	for _, t := range existing {
		if !drifted[t.Name] {
			rep.Present = append(rep.Present, t.Name)
		}
	}
	if len(drifts) > 0 {
		errs := make([]error, len(drifts))
		for i, d := range drifts {
			errs[i] = d
		}
		return rep, fmt.Errorf("ensure topics: %d differ from the catalog: %w", len(drifts), errors.Join(errs...))
	}
	return rep, nil
}

// TopicConfigs is what a catalog row asks of a topic's configuration.
func TopicConfigs(t Topic) map[string]*string {
	cfg := map[string]*string{"cleanup.policy": kadm.StringPtr(string(t.Cleanup))}
	if t.Retention > 0 {
		cfg["retention.ms"] = kadm.StringPtr(strconv.FormatInt(t.Retention.Milliseconds(), 10))
	}
	if t.MaxMessageBytes > 0 {
		cfg["max.message.bytes"] = kadm.StringPtr(strconv.Itoa(int(t.MaxMessageBytes)))
	}
	return cfg
}

func create(ctx context.Context, adm *kadm.Client, t Topic, rf int16) (bool, error) {
	resp, err := adm.CreateTopic(ctx, t.Partitions, rf, TopicConfigs(t), t.Name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	default:
		return false, fmt.Errorf("ensure topic %s: create with %d partitions: %w", t.Name, t.Partitions, err)
	}
}

// WaitUsable waits (up to a minute) until every named topic shows all its
// partitions with a leader, and every partition lists its offsets. A broker answers
// CreateTopics before the controller has spread the new metadata, and
// producing or describing configs in that gap fails. For a moment after
// that, a partition with a leader still answers ListOffsets with
// UNKNOWN_TOPIC_OR_PARTITION: a stage that joins then reloads that
// partition's offsets and, franz-go fetching once at a time per broker,
// waits for the fetch in flight to come back empty, 5 s (FetchMaxWait),
// before it reads the partition. Seen on the bench's raw pipeline: most
// runs on new topics lost 5 s that way. Anything that creates topics and
// reads them at once waits here.
func WaitUsable(ctx context.Context, adm *kadm.Client, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), names...)
		pending := ""
		if err == nil {
			for _, n := range names {
				d := details[n]
				if d.Err != nil || len(d.Partitions) == 0 {
					pending = n
					break
				}
				for _, p := range d.Partitions {
					if p.Leader < 0 || p.Err != nil {
						pending = n
						break
					}
				}
			}
			if pending == "" {
				pending, err = unserved(ctx, adm, names)
			}
			if pending == "" && err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("topic %s has no leader or does not list its offsets yet", pending)
			}
			return fmt.Errorf("created topics not usable: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unserved names a partition of names that cannot list its offsets yet,
// "" when none.
func unserved(ctx context.Context, adm *kadm.Client, names []string) (string, error) {
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return "", fmt.Errorf("list offsets: %w", err)
	}
	pending := ""
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && pending == "" {
			pending = fmt.Sprintf("%s[%d]", o.Topic, o.Partition)
		}
	})
	return pending, nil
}

// checkListed checks topics the cluster has listed. A broker other than
// the one that listed them may not know them yet (another instance created
// them a moment ago, and metadata spreads from the controller to each
// broker in its own time): that answer is waited out for up to 30 s.
func checkListed(ctx context.Context, adm *kadm.Client, ts []Topic) ([]Drift, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		drifts, err := check(ctx, adm, ts)
		notYet := errors.Is(err, kerr.UnknownTopicOrPartition) || (err == nil && slices.ContainsFunc(drifts, unknownYet))
		if !notYet || time.Now().After(deadline) {
			return drifts, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ensure topics: waiting for the brokers to know them: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// unknownYet is a topic listed with no partitions: the broker asked has
// its name but not yet its partitions.
func unknownYet(d Drift) bool { return d.What == "partitions" && d.Have == "0" }

func check(ctx context.Context, adm *kadm.Client, ts []Topic) ([]Drift, error) {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	// kgo caches metadata for kadm, including the "unknown topic" answer of
	// the first listing, so a topic created a moment ago would show no
	// partitions. Asking for authorized operations makes kadm send a fresh
	// request instead of reading the cache.
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), names...)
	if err != nil {
		return nil, fmt.Errorf("ensure topics: list topics: %w", err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("ensure topics: describe configs: %w", err)
	}
	var drifts []Drift
	for _, t := range ts {
		if n := int32(len(details[t.Name].Partitions)); n != t.Partitions {
			drifts = append(drifts, Drift{t.Name, "partitions", strconv.Itoa(int(n)), strconv.Itoa(int(t.Partitions))})
		}
		rc, err := configs.On(t.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("ensure topic %s: describe configs: %w", t.Name, err)
		}
		if rc.Err != nil {
			return nil, fmt.Errorf("ensure topic %s: describe configs: %w", t.Name, rc.Err)
		}
		have := map[string]string{}
		for _, kv := range rc.Configs {
			have[kv.Key] = kv.MaybeValue()
		}
		policy := have["cleanup.policy"]
		if policy == "" {
			policy = string(CleanupDelete) // Kafka's default when unset
		}
		if policy != string(t.Cleanup) {
			drifts = append(drifts, Drift{t.Name, "cleanup.policy", policy, string(t.Cleanup)})
		}
		if t.Retention > 0 {
			want := strconv.FormatInt(t.Retention.Milliseconds(), 10)
			if got := have["retention.ms"]; got != want {
				drifts = append(drifts, Drift{t.Name, "retention.ms", orUnset(got), want})
			}
		}
		if t.MaxMessageBytes > 0 {
			want := strconv.Itoa(int(t.MaxMessageBytes))
			if got := have["max.message.bytes"]; got != want {
				drifts = append(drifts, Drift{t.Name, "max.message.bytes", orUnset(got), want})
			}
		}
	}
	return drifts, nil
}

func raiseSizeLimits(ctx context.Context, adm *kadm.Client, drifts []Drift, rep *EnsureReport) ([]Drift, error) {
	var rest []Drift
	for _, d := range drifts {
		have, _ := strconv.Atoi(d.Have)
		want, _ := strconv.Atoi(d.Want)
		if d.What != "max.message.bytes" || have >= want {
			rest = append(rest, d)
			continue
		}
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: d.What, Value: kadm.StringPtr(d.Want)}}, d.Topic)
		if err == nil {
			_, err = resp.On(d.Topic, nil)
		}
		if err == nil {
			for _, r := range resp {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ensure topic %s: raise max.message.bytes from %s to %s: %w", d.Topic, d.Have, d.Want, err)
			}
			// Not fatal: the stages park what the smaller limit refuses,
			// and the report says how to raise it.
			if have == 0 {
				have = DefaultBatchBytes // unset: the broker's default
			}
			rep.TooSmall = append(rep.TooSmall, SizeDrift{Topic: d.Topic, Have: int32(have), Want: int32(want), RaiseErr: err})
			continue
		}
		rep.Raised = append(rep.Raised, d.Topic)
	}
	return rest, nil
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}
