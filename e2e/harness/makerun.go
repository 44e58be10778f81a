package harness

import (
	"path/filepath"
	"testing"
)

// The addresses `make run` serves on: the defaults of the binary, which the README's commands
// name.
const (
	DefaultHTTPSAddr = "127.0.0.1:8443"
	DefaultHTTPAddr  = "127.0.0.1:8080"
	DefaultProxyAddr = "127.0.0.1:8081"
)

// StartAsMakeRun starts the binary as `make run` does, with no arguments but args (such as
// --config FILE): on the default addresses, with its data directory under home. Those ports
// are fixed, so this is for a network namespace of the test's own (TestReadmeShell's
// sessions), where nothing else can hold them.
func StartAsMakeRun(t testing.TB, home string, args ...string) *Emulator {
	t.Helper()
	e := &Emulator{
		HTTPSAddr: DefaultHTTPSAddr, HTTPAddr: DefaultHTTPAddr, ProxyAddr: DefaultProxyAddr,
		DataDir: filepath.Join(home, ".acr-emulator"), logs: &lockedBuffer{},
		args: args, env: []string{"HOME=" + home},
	}
	e.CAFile = filepath.Join(e.DataDir, "ca.pem")
	e.start(t)
	t.Cleanup(func() { e.stop(t) })
	return e
}
