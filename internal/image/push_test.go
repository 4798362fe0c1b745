package image

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/iter8-tools/iter8/internal/testenv"
)

// TestPushAndPin pushes the images to a real registry with the Docker
// config's credentials, pulls them back by digest, and pins them from the
// layout and from the registry.
func TestPushAndPin(t *testing.T) {
	reg := testenv.StartRegistry(t)
	o := testOptions(t)
	o.Repository = reg.Host + "/iter8"
	indexes, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	// No credentials: the registry refuses.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if err := Push(t.Context(), indexes, &log); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("push without credentials: %v", err)
	}
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	if err := Push(t.Context(), indexes, &log); err != nil {
		t.Fatal(err)
	}
	for ref, idx := range indexes {
		want, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "pushing "+ref+"\n") {
			t.Errorf("push log does not name %s:\n%s", ref, log.String())
		}
		pinned, err := Pin(t.Context(), ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pinned != ref+"@"+want.String() {
			t.Errorf("pinned from the registry: %s, want digest %s", pinned, want)
		}
		if fromLayout, err := Pin(t.Context(), ref, indexes); err != nil || fromLayout != pinned {
			t.Errorf("pinned from the layout: %s, %v; from the registry: %s", fromLayout, err, pinned)
		}
		if again, err := Pin(t.Context(), pinned, nil); err != nil || again != pinned {
			t.Errorf("pinning %s again: %s, %v", pinned, again, err)
		}
		// Pull by digest: the same index, each platform's image with its
		// config.
		d, err := name.NewDigest(pinned)
		if err != nil {
			t.Fatal(err)
		}
		pulled, err := remote.Index(d, remote.WithAuth(reg.Auth()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := pulled.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Manifests) != 2 || m.Manifests[0].Platform.Architecture != "amd64" || m.Manifests[1].Platform.Architecture != "arm64" {
			t.Fatalf("%s: pulled manifests %+v", pinned, m.Manifests)
		}
		for _, md := range m.Manifests {
			img, err := pulled.Image(md.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != "65532:65532" || cf.Architecture != md.Platform.Architecture || cf.Config.Labels["org.opencontainers.image.revision"] != o.Commit {
				t.Errorf("%s %s: config %+v", pinned, md.Platform, cf.Config)
			}
		}
	}
	if _, err := Pin(t.Context(), reg.Host+"/iter8/kubectl-iter8-run:v9.9.9", nil); err == nil || !strings.Contains(err.Error(), "resolving the digest of image "+reg.Host+"/iter8/kubectl-iter8-run:v9.9.9") {
		t.Errorf("pinning a tag the registry lacks: %v", err)
	}
}
