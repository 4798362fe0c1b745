package image

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/iter8-tools/iter8/pkg/version"
)

// Components are the plugins that have an image, in the order Build
// builds them.
var Components = []string{"run", "route", "abn"}

// Paths and settings inside every image.
const (
	// Home is the home of the image's user and its working directory.
	Home = "/home/nonroot"
	// CAFile is the bundle of CA roots, also named by $SSL_CERT_FILE.
	CAFile = "/etc/ssl/certs/ca-certificates.crt"
	// ZoneInfoDir is the time zone database, where Go's time package and
	// the C library look first.
	ZoneInfoDir = "/usr/share/zoneinfo"
	// Source is the repository the images are built from, their
	// org.opencontainers.image.source.
	Source = "https://github.com/iter8-tools/iter8"
	// License is the SPDX identifier of the images' content.
	License = "Apache-2.0"
)

// Options say what Build builds.
type Options struct {
	// Repository is where the images go, without a trailing slash: the
	// image of component c is Repository/kubectl-iter8-c.
	Repository string
	// Version is the images' tag and their org.opencontainers.image.version.
	Version string
	// Commit is the Git commit the binaries were built from, the images'
	// org.opencontainers.image.revision.
	Commit string
	// Created is the commit date: the time of every file, history entry
	// and config of the images, so that a commit gives the same digests.
	Created time.Time
	// Platforms are the images' platforms, OS/ARCH[/VARIANT] such as
	// linux/amd64.
	Platforms []string
	// Binary returns the path of the static binary of component (run,
	// route or abn) for platform.
	Binary func(component, platform string) string
}

// Ref is the reference Build gives component's image:
// version.ImageNameIn(Repository, component):VERSION.
func (o Options) Ref(component string) string {
	return version.ImageNameIn(o.Repository, component) + ":" + o.Version
}

func (o Options) validate() error {
	var errs []error
	if o.Repository == "" {
		errs = append(errs, errors.New("the repository is empty"))
	}
	if o.Version == "" {
		errs = append(errs, errors.New("the version is empty"))
	}
	if o.Commit == "" {
		errs = append(errs, errors.New("the commit is empty"))
	}
	if o.Created.IsZero() {
		errs = append(errs, errors.New("the creation time (the commit date) is not set"))
	}
	if len(o.Platforms) == 0 {
		errs = append(errs, errors.New("no platforms"))
	}
	if o.Binary == nil {
		errs = append(errs, errors.New("no binaries (Binary is nil)"))
	}
	if o.Repository != "" && o.Version != "" {
		for _, c := range Components {
			if _, err := name.NewTag(o.Ref(c), name.StrictValidation); err != nil {
				errs = append(errs, fmt.Errorf("image reference %q: %w", o.Ref(c), err))
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range o.Platforms {
		pl, err := v1.ParsePlatform(p)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("platform %q: %w", p, err))
		case pl.OS != "linux" || pl.Architecture == "":
			errs = append(errs, fmt.Errorf("platform %q: want linux/ARCH[/VARIANT]", p))
		case seen[pl.String()]:
			errs = append(errs, fmt.Errorf("platform %q: given twice", p))
		}
		if err == nil {
			seen[pl.String()] = true
		}
	}
	return errors.Join(errs...)
}

// Build builds the image index of each component, keyed by o.Ref(component).
// The indexes are in memory (every layer is compressed once); write them
// with WriteLayout.
func Build(o Options) (map[string]v1.ImageIndex, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("image options: %w", err)
	}
	created := o.Created.UTC().Truncate(time.Second)
	base, err := baseLayer(created)
	if err != nil {
		return nil, err
	}
	// Each binary is read, archived and compressed once, two at a time.
	images := make([][]v1.Image, len(Components))
	var g errgroup.Group
	g.SetLimit(2)
	for i, c := range Components {
		images[i] = make([]v1.Image, len(o.Platforms))
		for j, p := range o.Platforms {
			g.Go(func() error {
				img, err := buildImage(o, created, base, c, p)
				if err != nil {
					return fmt.Errorf("image of %s for %s: %w", c, p, err)
				}
				images[i][j] = img
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]v1.ImageIndex, len(Components))
	for i, c := range Components {
		adds := make([]mutate.IndexAddendum, len(o.Platforms))
		for j, p := range o.Platforms {
			pl, _ := v1.ParsePlatform(p) // checked by validate
			adds[j] = mutate.IndexAddendum{Add: images[i][j], Descriptor: v1.Descriptor{Platform: pl}}
		}
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
		out[o.Ref(c)] = mutate.Annotations(idx, labels(o, created, c)).(v1.ImageIndex)
	}
	return out, nil
}

// labels are the OCI labels of component's image config, also the
// annotations of its index.
func labels(o Options, created time.Time, component string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.source":   Source,
		"org.opencontainers.image.revision": o.Commit,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.created":  created.Format(time.RFC3339),
		"org.opencontainers.image.title":    "kubectl-iter8-" + component,
		"org.opencontainers.image.licenses": License,
	}
}

// buildImage builds component's image for platform p on the base layer.
func buildImage(o Options, created time.Time, base v1.Layer, component, p string) (v1.Image, error) {
	pl, err := v1.ParsePlatform(p)
	if err != nil {
		return nil, err
	}
	binPath := o.Binary(component, p)
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	fs := newTree(created)
	fs.file(version.ImageBinary(component), 0o755, 0, bin)
	binLayer, err := fs.layer()
	if err != nil {
		return nil, err
	}
	uid := strconv.FormatInt(version.ImageUID, 10)
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: pl.Architecture,
		OS:           pl.OS,
		Variant:      pl.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			User:       uid + ":" + uid,
			Entrypoint: []string{version.ImageBinary(component)},
			Env: []string{
				"PATH=/usr/local/bin:/usr/bin:/bin",
				"HOME=" + Home,
				"SSL_CERT_FILE=" + CAFile,
			},
			WorkingDir: Home,
			Labels:     labels(o, created, component),
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "iter8 internal/image: user " + uid + ", " + CAFile + ", " + ZoneInfoDir + ", /tmp",
		}},
		mutate.Addendum{Layer: binLayer, History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "iter8 internal/image: " + filepath.Base(binPath) + " at " + version.ImageBinary(component),
		}},
	)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// baseLayer is what every image holds besides its binary.
func baseLayer(created time.Time) (v1.Layer, error) {
	uid := version.ImageUID
	fs := newTree(created)
	fs.file("/etc/passwd", 0o644, 0, fmt.Appendf(nil,
		"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n",
		uid, uid, Home))
	fs.file("/etc/group", 0o644, 0, fmt.Appendf(nil, "root:x:0:\nnobody:x:65534:\nnonroot:x:%d:\n", uid))
	fs.dir("/root", 0o700, 0)
	fs.dir(Home, 0o700, uid)
	fs.dir("/tmp", 0o1777, 0)
	fs.dir(path.Dir(version.ImageBinary("run")), 0o755, 0)
	fs.file(CAFile, 0o644, 0, caBundle())
	zi, err := zoneInfo()
	if err != nil {
		return nil, err
	}
	for _, f := range zi {
		fs.file(path.Join(ZoneInfoDir, f.name), 0o644, 0, f.data)
	}
	return fs.layer()
}

// caBundle is the PEM bundle of the unconstrained roots of
// x509roots/fallback (Mozilla's NSS roots). Roots with a constraint (a
// distrust-after date) are left out: a PEM file cannot carry it.
func caBundle() []byte {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return b.Bytes()
}

type zoneFile struct {
	name string
	data []byte
}

// zoneInfo reads the time zone database of the Go toolchain on PATH,
// $GOROOT/lib/time/zoneinfo.zip (the data time/tzdata embeds), once.
var zoneInfo = sync.OnceValues(func() ([]zoneFile, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("finding the time zone database: go env GOROOT: %w", err)
	}
	zipPath := filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip")
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("reading the time zone database: %w", err)
	}
	defer zr.Close()
	var files []zoneFile
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if !validZipName(f.Name) {
			return nil, fmt.Errorf("%s: bad entry %q", zipPath, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", zipPath, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", zipPath, f.Name, err)
		}
		files = append(files, zoneFile{f.Name, data})
	}
	return files, nil
})

// validZipName reports whether a zip entry's name is a clean relative path.
func validZipName(n string) bool {
	return n != "" && !strings.HasPrefix(n, "/") && path.Clean(n) == n && !strings.HasPrefix(n, "../") && n != ".."
}

// tree is a layer's files, by absolute path, written in sorted order with
// numeric owners and one time. Parent directories are added (root's,
// 0755) when not given.
type tree struct {
	created time.Time
	entries map[string]*tar.Header
	data    map[string][]byte
}

func newTree(created time.Time) *tree {
	return &tree{created: created, entries: map[string]*tar.Header{}, data: map[string][]byte{}}
}

func (t *tree) parents(p string) {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if _, ok := t.entries[d]; !ok {
			t.dir(d, 0o755, 0)
		}
	}
}

func (t *tree) dir(p string, mode int64, owner int64) {
	t.parents(p)
	t.entries[p] = &tar.Header{Typeflag: tar.TypeDir, Name: p[1:] + "/", Mode: mode, Uid: int(owner), Gid: int(owner), ModTime: t.created}
}

func (t *tree) file(p string, mode int64, owner int64, data []byte) {
	t.parents(p)
	t.entries[p] = &tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: mode, Uid: int(owner), Gid: int(owner), ModTime: t.created, Size: int64(len(data))}
	t.data[p] = data
}

// layer archives and compresses the tree into an OCI layer.
func (t *tree) layer() (v1.Layer, error) {
	paths := make([]string, 0, len(t.entries))
	for p := range t.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, p := range paths {
		h := t.entries[p]
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(t.data[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
