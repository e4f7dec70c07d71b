package forward

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPositions: where a failing or queueing record goes from the
// outbound topic and from each tier, which calls are a tier's, and that
// a tier holds a record until it is due while the outbound topic does not.
func TestPositions(t *testing.T) {
	for _, tc := range []struct {
		name              string
		at                position
		retrying          bool
		escalated, queued int
	}{
		{"outbound", outboundTopic{}, false, 1, 1},
		{"tier 1", retryTier(1), true, 2, 1},
		{"tier 3", retryTier(3), true, 4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.at.retrying() != tc.retrying || tc.at.next(true) != tc.escalated || tc.at.next(false) != tc.queued {
				t.Fatalf("retrying %v, escalated to %d, queued in %d; want %v, %d, %d",
					tc.at.retrying(), tc.at.next(true), tc.at.next(false), tc.retrying, tc.escalated, tc.queued)
			}
		})
	}
	due := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HRetryDue, Value: []byte(time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := (outboundTopic{}).hold(ctx, due); err != nil {
		t.Errorf("the outbound topic held a record: %v", err)
	}
	if err := retryTier(1).hold(ctx, due); err == nil {
		t.Error("a tier let a record an hour early through")
	}
}
