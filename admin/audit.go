package admin

import (
	"encoding/json"
	"net/http"

	"github.com/cachegate/cachegate/purge"
)

// PurgeLog is what GET /purges shows (*purge.Audited): the last purges
// this instance made and the number of purge marks in force.
type PurgeLog interface {
	Recent() []purge.Record
	ActiveMarks() (int, bool)
}

// PurgesAnswer is the answer to GET /purges.
type PurgesAnswer struct {
	// ActiveMarks is the number of purge marks in force, as varnishadm
	// ban.list shows the bans: the same on every instance, which all
	// mirror the marks. Absent when the purger cannot say.
	ActiveMarks *int `json:"active_marks,omitempty"`
	// Purges are the last purges and invalidation marks this instance
	// made, newest first; never null.
	Purges []purge.Record `json:"purges"`
}

// servePurges handles GET /purges. The caller checks the admin token.
func servePurges(log PurgeLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answer := PurgesAnswer{Purges: log.Recent()}
		if n, ok := log.ActiveMarks(); ok {
			answer.ActiveMarks = &n
		}
		if answer.Purges == nil {
			answer.Purges = []purge.Record{}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(answer)
	}
}
