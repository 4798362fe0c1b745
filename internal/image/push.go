package image

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push pushes each index to the registry its reference names, with the
// credentials of the Docker config ($DOCKER_CONFIG/config.json, or
// ~/.docker/config.json: docker login, crane auth login, podman login with
// its auth file there), as crane and ko do. Progress goes to w.
func Push(ctx context.Context, indexes map[string]v1.ImageIndex, w io.Writer, opts ...remote.Option) error {
	refs := slices.Sorted(maps.Keys(indexes))
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	for _, ref := range refs {
		tag, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("pushing %q: %w", ref, err)
		}
		fmt.Fprintf(w, "images: pushing %s\n", tag)
		if err := remote.WriteIndex(tag, indexes[ref], opts...); err != nil {
			return fmt.Errorf("pushing %s: %w", tag, err)
		}
	}
	return nil
}
