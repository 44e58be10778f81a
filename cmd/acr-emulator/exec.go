package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator"
)

// execCmd serves `exec [serve flags] -- CMD ARGS...`: start an emulator (free ports and a
// temporary data directory unless given), run CMD with the environment a client needs, stop
// the emulator gracefully and exit with CMD's status. Signals are passed on to CMD.
func execCmd(args []string, stdout, stderr io.Writer) int {
	sep := slices.Index(args, "--")
	if sep < 0 || sep == len(args)-1 {
		fmt.Fprintln(stderr, "usage: acr-emulator exec [--config FILE] [serve flags] -- CMD ARGS...")
		return 2
	}
	flags, command := args[:sep], args[sep+1:]
	fs, o := serveFlagsWith(stderr, "acr-emulator exec", serveDefaults{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "", "warn"})
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "acr-emulator exec: unexpected arguments %q before --\n", fs.Args())
		return 2
	}
	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "acr-emulator-exec-")
		if err != nil {
			fmt.Fprintln(stderr, "acr-emulator:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		o.dataDir = dir
	}
	emu, logger, code := startEmulator(o, stderr)
	if emu == nil {
		return code
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := emu.Close(ctx); err != nil {
			logger.Error("shutdown", "err", err)
		}
	}()

	// Catch signals before the child exists, so none is lost in between.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	child := exec.Command(command[0], command[1:]...)
	child.Env = environ(os.Environ(), viewOf(emu).vars())
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, stdout, stderr
	if err := child.Start(); err != nil {
		fmt.Fprintln(stderr, "acr-emulator exec:", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = child.Process.Signal(s)
		case err := <-done:
			return exitStatus(err, stderr)
		}
	}
}

// exitStatus is a finished child's status as a shell reports it (128+N when killed by signal N).
func exitStatus(err error, stderr io.Writer) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintln(stderr, "acr-emulator exec:", err)
	return 1
}

// viewOf is what a client needs of an emulator running in this process.
func viewOf(emu *emulator.Emulator) clientView {
	w := emu.World()
	v := clientView{HTTPS: emu.HTTPSURL(), HTTP: (publication{}).url(emu.HTTPURL()), Proxy: emu.ProxyURL(), CAFile: emu.CA().Path(), TenantID: w.TenantID}
	if len(w.ServicePrincipals) > 0 {
		v.ClientID, v.Secret = w.ServicePrincipals[0].ClientID, w.ServicePrincipals[0].Secret
	}
	if len(w.ComputeResources) > 0 {
		v.IdentityHeader = w.ComputeResources[0].IdentityHeader
	}
	if regs := emu.Registries(); len(regs) > 0 {
		v.LoginServer = regs[0].LoginServer
	}
	return v
}
