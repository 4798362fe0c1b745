package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/iter8-tools/iter8/internal/image"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/version"
)

// cluster is a second control plane, with a real node: a kubelet with
// containerd and runc that runs the pods of Jobs, Deployments and the
// rest from iter8's images (built and loaded into the node by
// startCluster), on a pod network inside the tests' network namespace. Pods reach
// the API server as in any cluster, through the kubernetes Service, and
// the tests reach pods at their IPs. It runs every controller these flows
// need, Deployments' included, which is why the tests that write a
// Deployment's status by hand use env instead.
var cluster struct {
	env  *testenv.Env
	node *testenv.Node
}

// clusterControllers are the controllers of cluster's
// kube-controller-manager.
var clusterControllers = []string{
	"serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"node-lifecycle-controller", "garbage-collector-controller",
	"job-controller", "cronjob-controller", "deployment-controller", "replicaset-controller",
	"persistentvolume-binder-controller",
}

// startCluster starts cluster and loads the images of the built binaries
// into its node; stop ends it.
func startCluster(ctx context.Context, assets string) (stop func(), err error) {
	e, err := testenv.Start(ctx, testenv.Options{AssetsDir: assets, Nodes: true})
	if err != nil {
		return nil, err
	}
	var node *testenv.Node
	stop = func() {
		if node != nil {
			if err := node.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: stopping the node: %v\n", err)
			}
		}
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the cluster: %v\n", err)
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := e.StartControllerManager(clusterControllers...); err != nil {
		return nil, err
	}
	if err := e.StartScheduler(); err != nil {
		return nil, err
	}
	start := time.Now()
	if node, err = e.StartNode(ctx, testenv.NodeOptions{}); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "e2e: node %s Ready in %s\n", node.Name, time.Since(start).Round(time.Millisecond))
	images, err := e2eImages()
	if err != nil {
		return nil, err
	}
	if err := node.Load(ctx, images); err != nil {
		return nil, err
	}
	cluster.env, cluster.node = e, node
	return stop, nil
}

// e2eImageOptions are make images' options for the binaries in binDir,
// built for platform, tagged version e2eVersion.
func e2eImageOptions(platform string) image.Options {
	return image.Options{
		Repository: version.ImageRepository,
		Version:    e2eVersion,
		Commit:     e2eCommit,
		Created:    time.Unix(0, 0).UTC(),
		Platforms:  []string{platform},
		Binary: func(component, _ string) string {
			return filepath.Join(binDir, "kubectl-iter8_"+component)
		},
	}
}

// e2eImages builds the images of the binaries in binDir for this machine's
// platform, as make images does, tagged version e2eVersion.
func e2eImages() (map[string]v1.Image, error) {
	platform := "linux/" + runtime.GOARCH
	indexes, err := image.Build(e2eImageOptions(platform))
	if err != nil {
		return nil, err
	}
	images := map[string]v1.Image{}
	for ref, idx := range indexes {
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(m.Manifests) != 1 {
			return nil, fmt.Errorf("image %s: %d manifests, want one for %s", ref, len(m.Manifests), platform)
		}
		if images[ref], err = idx.Image(m.Manifests[0].Digest); err != nil {
			return nil, err
		}
	}
	return images, nil
}
