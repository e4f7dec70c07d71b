package kafkaclient

import (
	"context"
	"log/slog"

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
func Logger(log *slog.Logger) kgo.Opt {
	return kgo.WithLogger(slogLogger{log.With("component", "kafka-client")})
}

type slogLogger struct{ log *slog.Logger }

// Level is the most verbose franz-go level the slog handler would print.
func (l slogLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case l.log.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (l slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelDebug
	}
	l.log.Log(context.Background(), lv, msg, keyvals...)
}
