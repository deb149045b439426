// pause is the process of every pod sandbox on the test node: PID 1 of the pod's namespaces. It does
// nothing but wait, reaps any zombie re-parented to it, and exits 0 on SIGTERM or SIGINT, as the
// upstream pause container does. Built static (CGO_ENABLED=0) into a FROM-scratch image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
