//go:build !linux

package custommetrics

import "syscall"

// sysProcAttr is nil where the kernel cannot kill children with their parent.
func sysProcAttr() *syscall.SysProcAttr { return nil }
