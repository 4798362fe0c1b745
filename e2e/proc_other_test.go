//go:build !linux

package e2e

import "syscall"

// sysProcAttr sets nothing where the kernel cannot end a child with its
// parent.
func sysProcAttr() *syscall.SysProcAttr { return nil }
