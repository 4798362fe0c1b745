package run_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/image/imagetest"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/version"
)

// TestGeneratePinsTheImage writes the Job with the default image pinned by
// digest from make images' layout.
func TestGeneratePinsTheImage(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, clusterSpec)
	tag := strings.TrimPrefix(runner.DefaultImage(), version.ImageName("run")+":")
	layout, pinned := imagetest.Layout(t, imagetest.Build(t, version.ImageRepository, tag))
	out := filepath.Join(dir, "deploy")
	_, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", "default", "generate", "-f", "experiment.yaml", "--out", out, "--image-layout", layout)
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s", code, errOut)
	}
	job, err := os.ReadFile(filepath.Join(out, "job-iter8-gitops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "image: " + pinned[runner.DefaultImage()] + "\n"; !strings.Contains(string(job), want) {
		t.Errorf("the Job does not run %q:\n%s", want, job)
	}
	// An image the layout lacks: nothing is written.
	out2 := filepath.Join(dir, "deploy2")
	_, errOut, code = iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", "default", "generate", "-f", "experiment.yaml", "--out", out2, "--image", "example.com/other:v1", "--image-layout", layout)
	if code == 0 || !strings.Contains(errOut, "flag --image-layout: "+layout+" holds no image example.com/other:v1") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("%s was written: %v", out2, err)
	}
}
