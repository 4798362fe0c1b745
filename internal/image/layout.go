package image

import (
	"fmt"
	"maps"
	"os"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// RefAnnotation is the annotation of an OCI layout's index that names an
// image, as podman (oci:DIR:REF), skopeo and containerd read it.
const RefAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes the indexes, keyed by reference, as an OCI image
// layout in dir, replacing what dir held. Each index is named by its full
// reference (RefAnnotation) in the layout's index.json, in sorted order.
func WriteLayout(dir string, indexes map[string]v1.ImageIndex) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the image layout %s: %w", dir, err)
	}
	refs := slices.Sorted(maps.Keys(indexes))
	for _, ref := range refs {
		if err := p.AppendIndex(indexes[ref], layout.WithAnnotations(map[string]string{RefAnnotation: ref})); err != nil {
			return fmt.Errorf("writing %s to the image layout %s: %w", ref, dir, err)
		}
	}
	return nil
}

// ReadLayout reads the indexes of the OCI image layout in dir, keyed by
// their RefAnnotation.
func ReadLayout(dir string) (map[string]v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the image layout %s: %w", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading the image layout %s: %w", dir, err)
	}
	m, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the image layout %s: %w", dir, err)
	}
	out := map[string]v1.ImageIndex{}
	for _, d := range m.Manifests {
		ref := d.Annotations[RefAnnotation]
		if ref == "" || !d.MediaType.IsIndex() {
			continue
		}
		idx, err := root.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the image layout %s: %w", ref, dir, err)
		}
		out[ref] = idx
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the image layout %s names no image index (no %s annotation)", dir, RefAnnotation)
	}
	return out, nil
}
