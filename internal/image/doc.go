// Package image builds iter8's container images without a container engine
// and publishes them.
//
// There is one image per plugin (run, route and abn), named
// version.ImageName(c) and tagged with the build's version. Each is an image
// index for the requested platforms (linux/amd64 and linux/arm64 by
// default) whose images start from nothing: a base layer with what a static
// Go binary needs (/etc/passwd and /etc/group with the numeric non-root user
// version.ImageUID, its home, a world-writable /tmp, the CA roots of
// golang.org/x/crypto/x509roots/fallback and the time zone database of the
// Go toolchain that builds the image), then a layer with the binary at
// version.ImageBinary(c), the entrypoint. Every time in an image is the
// commit date and every tar entry is sorted with numeric owners, so that a
// commit always gives the same digests.
//
// Build makes the indexes, WriteLayout writes them as an OCI image layout
// (the directory crane, skopeo, podman and containerd read), Push publishes
// a layout to a registry and Pin names an image by digest.
package image
