package clustertest

import "syscall"

// sysProcAttr puts the child in its own process group (killed as one)
// and has the kernel kill it when the test process dies, so no replica
// outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
