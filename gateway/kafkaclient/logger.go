package kafkaclient

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger has franz-go log through the gateway's logger, so that what the
// client does on its own is in the gateway's log: a group it could not
// join or heartbeat to, a coordinator it could not find, a broker it
// could not reach. Without it a stage that stood still while its client
// retried left no line to say why. franz-go's warnings and errors show at
// the gateway's info level; its info lines (group sessions begun,
// partitions assigned) only at debug, as there is one of them per client
// and rebalance. Its debug lines, a few per request, never.
//
// A warning or error that repeats (the same message about the same broker
// or group) is logged once per repeatEvery, with how many were left out:
// the gateway's twenty-odd clients each retry a broker that is down, which
// was 30 lines a second for as long as one broker of three was down.
func Logger(log *slog.Logger) kgo.Opt {
	return kgo.WithLogger(newSlogLogger(log, time.Now))
}

// repeatEvery is how often a repeating franz-go warning is logged.
const repeatEvery = 10 * time.Second

// maxRepeatKeys bounds the repeats remembered; past it they are forgotten
// and each is logged once more.
const maxRepeatKeys = 1000

type slogLogger struct {
	log   *slog.Logger
	level kgo.LogLevel
	now   func() time.Time

	mu      sync.Mutex
	repeats map[string]*repeat
}

type repeat struct {
	logged  time.Time
	skipped int
}

func newSlogLogger(log *slog.Logger, now func() time.Time) *slogLogger {
	return &slogLogger{log: log.With("component", "kafka-client"), level: kgoLevel(log), now: now, repeats: map[string]*repeat{}}
}

// kgoLevel is the most verbose franz-go level the slog handler would
// print. The gateway's level is set once, at start, so it is found once:
// franz-go asks for it before each of its per-request debug lines.
func kgoLevel(log *slog.Logger) kgo.LogLevel {
	ctx := context.Background()
	switch {
	case log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case log.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

// Level is the most verbose franz-go level that is logged.
func (l *slogLogger) Level() kgo.LogLevel { return l.level }

func (l *slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	if lv >= slog.LevelWarn {
		skipped, ok := l.due(level, msg, keyvals)
		if !ok {
			return
		}
		if skipped > 0 {
			keyvals = append(keyvals, "repeated", skipped)
		}
	}
	l.log.Log(context.Background(), lv, msg, keyvals...)
}

// due says whether a warning is to be logged now, and how many like it
// were left out since the last one logged. Warnings are alike when their
// message and the broker or group they are about are.
func (l *slogLogger) due(level kgo.LogLevel, msg string, keyvals []any) (skipped int, ok bool) {
	key := fmt.Sprint(level, msg)
	for i := 0; i+1 < len(keyvals); i += 2 {
		switch keyvals[i] {
		case "addr", "broker", "group", "topic", "partition":
			key += fmt.Sprint("|", keyvals[i], "=", keyvals[i+1])
		}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.repeats[key]
	if r != nil && now.Sub(r.logged) < repeatEvery {
		r.skipped++
		return 0, false
	}
	if r == nil {
		if len(l.repeats) >= maxRepeatKeys {
			clear(l.repeats)
		}
		r = &repeat{}
		l.repeats[key] = r
	}
	skipped, r.logged, r.skipped = r.skipped, now, 0
	return skipped, true
}
