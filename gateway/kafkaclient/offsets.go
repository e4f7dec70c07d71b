package kafkaclient

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// OffsetsWait is how long EndOffsets waits out a cluster in motion.
const OffsetsWait = time.Minute

// EndOffsets lists the end offsets of every partition of the topics:
// the last stable offsets (what read_committed readers reach) when
// committed is set, else the high watermarks. Errors a cluster in motion
// gives (a topic another instance created a moment ago and a broker does
// not know yet, a partition whose leader is moving after a broker died)
// are retried for up to OffsetsWait: a partition left out would make a
// table or a store look loaded without its records.
func EndOffsets(ctx context.Context, adm *kadm.Client, committed bool, topics ...string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(OffsetsWait)
	for {
		var (
			ends kadm.ListedOffsets
			err  error
		)
		if committed {
			ends, err = adm.ListCommittedOffsets(ctx, topics...)
		} else {
			ends, err = adm.ListEndOffsets(ctx, topics...)
		}
		if err == nil {
			err = ends.Error()
		}
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return ends, errors.Join(err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
