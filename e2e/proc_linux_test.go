package e2e

import "syscall"

// sysProcAttr makes the kernel end a background process when the test
// process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
