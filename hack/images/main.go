// Command images builds iter8's images from the static binaries of make
// images into an OCI image layout, or pushes such a layout to its registry.
//
//	go run ./hack/images build -out DIR -repo REPO -version V -commit SHA -created RFC3339 -bin-dir DIR -platforms "linux/amd64 linux/arm64"
//	go run ./hack/images push -layout DIR
//
// Both print each image as REF@DIGEST on stdout (make images keeps them in
// dist/images.txt).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/iter8-tools/iter8/internal/image"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "build" && args[0] != "push") {
		return errors.New("usage: images build|push [flags]")
	}
	fs := flag.NewFlagSet("images "+args[0], flag.ContinueOnError)
	var (
		out       = fs.String("out", "dist/images", "the OCI image layout to write")
		repo      = fs.String("repo", "", "the repository of the images, e.g. ghcr.io/iter8-tools")
		ver       = fs.String("version", "", "the images' version and tag")
		commit    = fs.String("commit", "", "the commit the binaries were built from")
		created   = fs.String("created", "", "the commit date, RFC 3339")
		binDir    = fs.String("bin-dir", "dist/bin", "where the binaries are, as OS_ARCH/kubectl-iter8_COMPONENT")
		platforms = fs.String("platforms", "linux/amd64 linux/arm64", "the images' platforms, separated by spaces")
		layout    = fs.String("layout", "dist/images", "the OCI image layout to push")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var indexes map[string]v1.ImageIndex
	switch args[0] {
	case "build":
		t, err := time.Parse(time.RFC3339, *created)
		if err != nil {
			return fmt.Errorf("flag -created: %w", err)
		}
		start := time.Now()
		indexes, err = image.Build(image.Options{
			Repository: *repo,
			Version:    *ver,
			Commit:     *commit,
			Created:    t,
			Platforms:  strings.Fields(*platforms),
			Binary: func(c, p string) string {
				return filepath.Join(*binDir, strings.ReplaceAll(p, "/", "_"), "kubectl-iter8_"+c)
			},
		})
		if err != nil {
			return err
		}
		if err := image.WriteLayout(*out, indexes); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "images: wrote %d images for %s to %s in %s\n", len(indexes), *platforms, *out, time.Since(start).Round(time.Millisecond))
	case "push":
		var err error
		if indexes, err = image.ReadLayout(*layout); err != nil {
			return err
		}
		if err := image.Push(ctx, indexes, os.Stderr); err != nil {
			return err
		}
	}
	refs := slices.Sorted(maps.Keys(indexes))
	for _, ref := range refs {
		d, err := indexes[ref].Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s@%s\n", ref, d)
	}
	return nil
}
