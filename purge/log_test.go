package purge

import (
	"log/slog"

	"github.com/cachegate/cachegate/internal/testutil"
)

// discardLog is testutil.DiscardLogger under the name webhook_test.go uses
// (that file moves out of purge/ with the admin API; this one goes with it).
func discardLog() *slog.Logger { return testutil.DiscardLogger() }
