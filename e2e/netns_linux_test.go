//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"syscall"
	"unsafe"
)

// inNetworkNamespace makes cmd start in a network namespace of its own: only a loopback
// interface (down until loopbackUp), no port shared with anything else on the machine.
func inNetworkNamespace(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
}

// loopbackUp brings up lo in the current network namespace (ip link set lo up, without
// needing iproute2).
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var req struct { // struct ifreq with ifr_flags
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], "lo")
	req.flags = syscall.IFF_UP | syscall.IFF_LOOPBACK | syscall.IFF_RUNNING
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return fmt.Errorf("bring up lo: %w", errno)
	}
	return nil
}
