package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/image"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/version"
)

// imageLayout writes the images of e2eImages, as make images builds them,
// as an OCI image layout, the form make images writes.
func imageLayout(t *testing.T) string {
	t.Helper()
	platform := "linux/" + runtime.GOARCH
	indexes, err := image.Build(e2eImageOptions(platform))
	if err != nil {
		t.Fatal(err)
	}
	// Lowercase: podman names the image after the layout's path too.
	tmp, err := os.MkdirTemp("", "iter8-images-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "images")
	if err := image.WriteLayout(dir, indexes); err != nil {
		t.Fatal(err)
	}
	return dir
}

// podman runs Debian's podman with runc and storage of the test's own.
// The limits are below this machine's, which runc could not raise.
func podman(t *testing.T, store string, args ...string) (string, string, error) {
	t.Helper()
	global := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--tmpdir", filepath.Join(store, "tmp"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--storage-driver", "vfs"}
	if args[0] == "run" {
		args = append([]string{"run", "--quiet", "--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}, args[1:]...)
	}
	// Not t.Context(): that is done by the time the cleanup removes the
	// containers, which must stop before the store's folder is removed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(global, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestImagesRunWithPodman runs the images make images writes with a real
// container engine, from the OCI image layout: each holds its binary with
// this build's version, runs as the numeric user, and the A/B/n service
// answers lookups.
func TestImagesRunWithPodman(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("podman is not installed (apt-get install podman runc): %v", err)
	}
	layout := imageLayout(t)
	store := t.TempDir()
	t.Cleanup(func() { _, _, _ = podman(t, store, "rm", "--all", "--force") })
	ref := func(c string) string {
		return "oci:" + layout + ":" + version.ImageName(c) + ":" + e2eVersion
	}

	for _, c := range []string{"run", "route", "abn"} {
		out, errOut, err := podman(t, store, "run", "--rm", ref(c), "version", "-o", "json")
		if err != nil {
			t.Fatalf("%s image: %v\n%s", c, err, errOut)
		}
		var info version.Info
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("%s image: version -o json printed %q: %v", c, out, err)
		}
		if info.Version != e2eVersion || info.Commit != e2eCommit || info.Platform != "linux/"+runtime.GOARCH {
			t.Errorf("%s image runs %+v, want version %s, commit %s", c, info, e2eVersion, e2eCommit)
		}
	}

	// What the route image writes is the image user's.
	out := t.TempDir()
	if err := os.Chmod(out, 0o1777); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := podman(t, store, "run", "--rm", "-v", out+":/out", ref("route"), "install", "--image", "iter8:test", "--out", "/out/iter8")
	if err != nil || errOut != "wrote 9 objects and kustomization.yaml to /out/iter8\n" {
		t.Fatalf("route install --out in the image: %v\n%s", err, errOut)
	}
	files, err := filepath.Glob(filepath.Join(out, "iter8", "*.yaml"))
	if err != nil || len(files) != 10 { // nine objects and a kustomization
		t.Fatalf("route install wrote %v: %v", files, err)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); int64(s.Uid) != version.ImageUID || int64(s.Gid) != version.ImageUID {
			t.Errorf("%s is owned by %d:%d, want the image's user %d", f, s.Uid, s.Gid, version.ImageUID)
		}
	}

	// The A/B/n image serves lookups to the host's client.
	data := t.TempDir()
	if err := os.Chmod(data, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "apps.yaml"), []byte("applications: [{name: checkout, versions: [{name: v1}, {name: v2}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports, err := testenv.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	id, errOut, err := podman(t, store, "run", "-d", "-v", data+":/data", ref("abn"), "serve", "--apps", "/data/apps.yaml", "--store", "bolt:/data/abn.db",
		"--grpc-address", grpcAddr, "--http-address", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	if err != nil {
		t.Fatalf("abn serve in the image: %v\n%s", err, errOut)
	}
	id = strings.TrimSpace(id)
	var name string
	waitFor(t, "the A/B/n image answers a Lookup", func() (bool, string) {
		cmd := exec.CommandContext(t.Context(), filepath.Join(binDir, "kubectl-iter8_abn"), "lookup", "checkout", "ann", "--endpoint", grpcAddr, "-o", "json")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			logs, _, _ := podman(t, store, "logs", id)
			return false, stderr.String() + logs
		}
		var got struct{ Name string }
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			return false, err.Error()
		}
		name = got.Name
		return name == "v1" || name == "v2", stdout.String()
	})
	if _, errOut, err := podman(t, store, "stop", id); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, errOut)
	}
	st, err := os.Stat(filepath.Join(data, "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); int64(s.Uid) != version.ImageUID {
		t.Errorf("the store is owned by %d, want the image's user %d", s.Uid, version.ImageUID)
	}
}
