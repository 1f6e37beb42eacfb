//go:build unix

package store

import (
	"syscall"
	"time"
)

// processCPU is the user+system time this process has used so far: what a
// benchmark reports per operation as cpu-ns/op, which unlike ns/op hardly
// depends on what else the shared machine runs.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
