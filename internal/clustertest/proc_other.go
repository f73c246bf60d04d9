//go:build !linux

package clustertest

import "syscall"

// sysProcAttr puts the child in its own process group (killed as one).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
