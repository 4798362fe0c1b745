package route_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/image/imagetest"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/version"
)

// TestInstallPinsTheImage writes the controller with its default image
// pinned by digest from make images' layout, still warning that the build
// is not a release.
func TestInstallPinsTheImage(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	tag := strings.TrimPrefix(reconcile.DefaultImage(), version.ImageName("route")+":")
	layout, pinned := imagetest.Layout(t, imagetest.Build(t, version.ImageRepository, tag))
	_, errOut, code := iter8(t, dir, "install", "--out", "iter8", "--image-layout", layout)
	if want := version.DefaultImageWarning(reconcile.DefaultImage()) + "\nwrote 9 objects and kustomization.yaml to iter8\n"; code != 0 || errOut != want {
		t.Fatalf("exit %d, stderr %q, want %q", code, errOut, want)
	}
	d, err := os.ReadFile(filepath.Join(dir, "iter8", "deployment-iter8-route-controller.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "image: " + pinned[reconcile.DefaultImage()] + "\n"; !strings.Contains(string(d), want) {
		t.Errorf("the controller does not run %q:\n%s", want, d)
	}
}
