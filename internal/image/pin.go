package image

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pin returns ref pinned by digest, NAME:TAG@sha256:...: the digest of the
// index ref names in indexes (an image layout of make images) when it is
// there, else the digest the registry serves for it (asked with the Docker
// config's credentials). A reference already pinned is returned as it is.
func Pin(ctx context.Context, ref string, indexes map[string]v1.ImageIndex, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	if _, ok := r.(name.Digest); ok {
		return ref, nil
	}
	if idx, ok := indexes[ref]; ok {
		d, err := idx.Digest()
		if err != nil {
			return "", fmt.Errorf("image %s: %w", ref, err)
		}
		return ref + "@" + d.String(), nil
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	desc, err := remote.Head(r, opts...)
	if err != nil {
		return "", fmt.Errorf("resolving the digest of image %s: %w", ref, err)
	}
	return ref + "@" + desc.Digest.String(), nil
}
