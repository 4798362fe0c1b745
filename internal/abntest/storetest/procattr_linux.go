package storetest

import "syscall"

// sysProcAttr makes the kernel end a server when the test process dies, so
// that a crashed test leaves none behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
