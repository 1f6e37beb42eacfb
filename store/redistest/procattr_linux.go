package redistest

import "syscall"

// sysProcAttr makes the kernel kill a server whose parent (the test binary)
// dies, so no redis-server outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
