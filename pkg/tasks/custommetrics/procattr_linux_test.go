package custommetrics

import "syscall"

// sysProcAttr makes the kernel kill a child process when the test process
// dies, so that a crashed test leaves no Prometheus behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
