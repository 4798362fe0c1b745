//go:build !linux

package storetest

import "syscall"

// sysProcAttr has nothing to add outside Linux: a crashed test may leave a
// server behind there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
