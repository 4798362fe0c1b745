package abn_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/image"
	"github.com/iter8-tools/iter8/internal/image/imagetest"
	"github.com/iter8-tools/iter8/internal/testenv"
)

// TestDeployPinsTheImage writes the service with its image pinned by the
// digest a real registry serves.
func TestDeployPinsTheImage(t *testing.T) {
	reg := testenv.StartRegistry(t)
	indexes := imagetest.Build(t, reg.Host+"/iter8", "v1.2.3")
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	if err := image.Push(t.Context(), indexes, io.Discard); err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/iter8/kubectl-iter8-abn:v1.2.3"
	dir := t.TempDir()
	kc := kubeconfig(t, dir, "shop")
	outDir := filepath.Join(dir, "abn")
	_, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", kc, "--out", outDir, "--image", ref, "--pin")
	if code != 0 || errOut != "wrote 6 objects and kustomization.yaml to "+outDir+"\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	d, err := os.ReadFile(filepath.Join(outDir, "deployment-iter8-abn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "image: " + imagetest.Pinned(t, indexes)[ref] + "\n"; !strings.Contains(string(d), want) {
		t.Errorf("the service does not run %q:\n%s", want, d)
	}
}
