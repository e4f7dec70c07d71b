package normalize_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// statusOf decodes a status record and says its outcome with the first
// reason's code, if any ("rejected OUTPUT_TOO_LARGE").
func statusOf(t *testing.T, r *kgo.Record) (topics.Status, string) {
	t.Helper()
	var s topics.Status
	if err := json.Unmarshal(r.Value, &s); err != nil {
		t.Fatal(err)
	}
	o := s.Outcome
	if len(s.Reasons) > 0 {
		o += " " + s.Reasons[0].Code
	}
	return s, o
}
