package cli_test

import (
	"io"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/image"
	"github.com/iter8-tools/iter8/internal/image/imagetest"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/cli"
)

func TestPinFromLayout(t *testing.T) {
	dir, pinned := imagetest.Layout(t, imagetest.Build(t, "example.com/iter8", "v1.2.3"))
	ref := "example.com/iter8/kubectl-iter8-route:v1.2.3"
	f := cli.PinFlags{Layout: dir}
	got, err := f.Apply(t.Context(), ref)
	if err != nil || got != pinned[ref] || !strings.HasPrefix(got, ref+"@sha256:") {
		t.Fatalf("Apply(%s) = %q, %v; want %s", ref, got, err, pinned[ref])
	}
	// Without a flag nothing changes.
	if got, err := (&cli.PinFlags{}).Apply(t.Context(), ref); err != nil || got != ref {
		t.Errorf("no flags: %q, %v", got, err)
	}
	// An image the layout lacks is an error naming what it holds.
	_, err = f.Apply(t.Context(), "example.com/iter8/kubectl-iter8-route:v9")
	if err == nil || !strings.Contains(err.Error(), "flag --image-layout: "+dir+" holds no image example.com/iter8/kubectl-iter8-route:v9, only example.com/iter8/kubectl-iter8-abn:v1.2.3,") {
		t.Errorf("missing image: %v", err)
	}
	if _, err := (&cli.PinFlags{Layout: t.TempDir()}).Apply(t.Context(), ref); err == nil || !strings.HasPrefix(err.Error(), "flag --image-layout: reading the image layout") {
		t.Errorf("not a layout: %v", err)
	}
}

func TestPinFromRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t)
	indexes := imagetest.Build(t, reg.Host+"/iter8", "v1.2.3")
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	if err := image.Push(t.Context(), indexes, io.Discard); err != nil {
		t.Fatal(err)
	}
	pinned := imagetest.Pinned(t, indexes)
	ref := reg.Host + "/iter8/kubectl-iter8-abn:v1.2.3"
	got, err := (&cli.PinFlags{Pin: true}).Apply(t.Context(), ref)
	if err != nil || got != pinned[ref] {
		t.Fatalf("Apply(%s) = %q, %v; want %s", ref, got, err, pinned[ref])
	}
	// --pin with a layout that lacks the image asks the registry.
	dir, _ := imagetest.Layout(t, imagetest.Build(t, "example.com/iter8", "v1"))
	if got, err := (&cli.PinFlags{Pin: true, Layout: dir}).Apply(t.Context(), ref); err != nil || got != pinned[ref] {
		t.Errorf("--pin --image-layout: %q, %v", got, err)
	}
	_, err = (&cli.PinFlags{Pin: true}).Apply(t.Context(), reg.Host+"/iter8/kubectl-iter8-abn:v9")
	if err == nil || !strings.HasPrefix(err.Error(), "flag --pin: resolving the digest of image "+reg.Host+"/iter8/kubectl-iter8-abn:v9") {
		t.Errorf("a tag the registry lacks: %v", err)
	}
}
