// Package imagetest builds small images for tests: iter8's image layout
// and configuration around stand-in binaries, fast to build and push.
package imagetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/iter8-tools/iter8/internal/image"
)

// Build builds the images of repository at tag for linux/amd64, each
// holding a stand-in for its binary, and returns them by reference.
func Build(t testing.TB, repository, tag string) map[string]v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	indexes, err := image.Build(image.Options{
		Repository: repository,
		Version:    tag,
		Commit:     "0123456789abcdef0123456789abcdef01234567",
		Created:    time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Platforms:  []string{"linux/amd64"},
		Binary: func(c, _ string) string {
			f := filepath.Join(dir, c)
			if err := os.WriteFile(f, []byte("stand-in for kubectl-iter8_"+c), 0o755); err != nil {
				t.Fatal(err)
			}
			return f
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return indexes
}

// Layout writes indexes as an OCI image layout in a new directory, and
// returns the directory and each image's reference pinned by digest.
func Layout(t testing.TB, indexes map[string]v1.ImageIndex) (string, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	if err := image.WriteLayout(dir, indexes); err != nil {
		t.Fatal(err)
	}
	return dir, Pinned(t, indexes)
}

// Pinned is each image's reference pinned by its digest.
func Pinned(t testing.TB, indexes map[string]v1.ImageIndex) map[string]string {
	t.Helper()
	out := map[string]string{}
	for ref, idx := range indexes {
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[ref] = ref + "@" + d.String()
	}
	return out
}
