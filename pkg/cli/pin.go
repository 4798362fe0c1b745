package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/iter8-tools/iter8/internal/image"
)

// PinFlags pin the image a command deploys by digest, NAME:TAG@sha256:...,
// as GitOps repositories want it: what Git holds then says exactly what
// runs. --image-layout takes the digest from the OCI image layout make
// images writes (dist/images), --pin from the registry.
type PinFlags struct {
	// Pin resolves the digest from the registry (--pin), with the Docker
	// config's credentials.
	Pin bool
	// Layout is the OCI image layout to take digests from (--image-layout).
	Layout string
}

// AddFlags adds --pin and --image-layout.
func (f *PinFlags) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.Pin, "pin", false, "pin the image by digest, resolved from its registry with the Docker config's credentials (docker/crane/podman login)")
	fs.StringVar(&f.Layout, "image-layout", "", "pin the image by digest from this OCI image layout (make images writes dist/images); with --pin, images it lacks are resolved from the registry")
}

// Apply returns ref pinned by digest when a flag asks for it, else ref.
func (f *PinFlags) Apply(ctx context.Context, ref string) (string, error) {
	if !f.Pin && f.Layout == "" {
		return ref, nil
	}
	var indexes map[string]v1.ImageIndex
	if f.Layout != "" {
		var err error
		if indexes, err = image.ReadLayout(f.Layout); err != nil {
			return "", fmt.Errorf("flag --image-layout: %w", err)
		}
		if _, ok := indexes[ref]; !ok && !f.Pin && !strings.Contains(ref, "@") {
			held := slices.Sorted(maps.Keys(indexes))
			return "", fmt.Errorf("flag --image-layout: %s holds no image %s, only %s; pass one of them with --image, or add --pin to resolve it from the registry", f.Layout, ref, strings.Join(held, ", "))
		}
	}
	pinned, err := image.Pin(ctx, ref, indexes)
	if err != nil {
		return "", fmt.Errorf("flag --pin: %w", err)
	}
	return pinned, nil
}
