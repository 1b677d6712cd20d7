package convox

import "time"

// FastPolls shortens the pauses between status polls: the in-process
// sandbox answers at once, so a test need not wait a second per poll.
// TestMain calls it before any test runs.
func FastPolls() {
	waitInterval = time.Millisecond
	pollInterval = time.Millisecond
}

// RelTime is ago's wording for a duration in the past.
var RelTime = relTime
