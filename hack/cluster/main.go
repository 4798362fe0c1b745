// Command cluster runs the test control plane for a person to try iter8 by
// hand: it starts etcd and kube-apiserver with state in --dir, writes
// DIR/kubeconfig once the API server is ready, and stops them on SIGINT or
// SIGTERM. hack/cluster.sh runs it in the background for make cluster-up.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/iter8-tools/iter8/internal/testenv"
)

func main() {
	dir := flag.String("dir", ".cluster", "folder for the control plane's state and kubeconfig")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	state := filepath.Join(dir, "state")
	env, err := testenv.Start(ctx, testenv.Options{Dir: state})
	if err != nil {
		return err
	}
	defer func() {
		_ = env.Stop()
		_ = os.RemoveAll(state)
	}()
	// Written last, and by rename, so that its presence means "ready".
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.Rename(env.Kubeconfig, kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "cluster: API server %s ready; kubeconfig %s\n", env.Config.Host, kubeconfig)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "cluster: stopping")
	return nil
}
