package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// LogRedisAtDebug sends go-redis's own messages to log at debug, for the
// whole process (go-redis has one logger). go-redis logs every failed
// dial; while Redis is down that is one line per request. The errors that
// matter are logged with context by the callers.
func LogRedisAtDebug(log *slog.Logger) { redis.SetLogger(redisLogger{log}) }

// redisLogger is go-redis's logger interface over slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}
