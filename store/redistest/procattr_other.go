//go:build !linux

package redistest

import "syscall"

// sysProcAttr is empty where Pdeathsig does not exist: a crashed test
// binary may leave its servers running there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
