package image

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/iter8-tools/iter8/pkg/version"
)

// testOptions builds from small files standing in for the binaries: what
// each holds names its component and platform.
func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	platforms := []string{"linux/amd64", "linux/arm64"}
	for _, c := range Components {
		for _, p := range platforms {
			f := filepath.Join(dir, c+"_"+strings.ReplaceAll(p, "/", "_"))
			if err := os.WriteFile(f, []byte("binary of "+c+" for "+p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Options{
		Repository: "registry.test/iter8",
		Version:    "v0.0.0-0123456789ab",
		Commit:     "0123456789abcdef0123456789abcdef01234567",
		Created:    time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Platforms:  platforms,
		Binary: func(c, p string) string {
			return filepath.Join(dir, c+"_"+strings.ReplaceAll(p, "/", "_"))
		},
	}
}

func digests(t *testing.T, indexes map[string]v1.ImageIndex) map[string]string {
	t.Helper()
	out := map[string]string{}
	for ref, idx := range indexes {
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[ref] = d.String()
	}
	return out
}

func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	first, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	a, b := digests(t, first), digests(t, second)
	if len(a) != len(Components) {
		t.Fatalf("built %d images, want %d: %v", len(a), len(Components), a)
	}
	for ref, d := range a {
		if b[ref] != d {
			t.Errorf("%s: digest %s then %s", ref, d, b[ref])
		}
	}
	// Another commit date is another image.
	o.Created = o.Created.Add(time.Hour)
	third, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	for ref, d := range digests(t, third) {
		if a[ref] == d {
			t.Errorf("%s: same digest %s for another commit date", ref, d)
		}
	}
}

func TestBuildContents(t *testing.T) {
	o := testOptions(t)
	indexes, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Components {
		ref := "registry.test/iter8/kubectl-iter8-" + c + ":v0.0.0-0123456789ab"
		idx, ok := indexes[ref]
		if !ok {
			t.Fatalf("no image %s in %v", ref, digests(t, indexes))
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("%s: media type %s", ref, m.MediaType)
		}
		if m.Annotations["org.opencontainers.image.revision"] != o.Commit {
			t.Errorf("%s: index annotations %v", ref, m.Annotations)
		}
		if len(m.Manifests) != 2 {
			t.Fatalf("%s: %d manifests, want 2", ref, len(m.Manifests))
		}
		for i, d := range m.Manifests {
			if got, want := d.Platform.String(), o.Platforms[i]; got != want {
				t.Errorf("%s: manifest %d is for %s, want %s", ref, i, got, want)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
				t.Errorf("%s %s: config is for %s/%s", ref, d.Platform, cf.OS, cf.Architecture)
			}
			if cf.Config.User != "65532:65532" || version.ImageUID != 65532 {
				t.Errorf("%s: user %q (ImageUID %d)", ref, cf.Config.User, version.ImageUID)
			}
			if want := "/usr/local/bin/kubectl-iter8_" + c; strings.Join(cf.Config.Entrypoint, " ") != want || version.ImageBinary(c) != want {
				t.Errorf("%s: entrypoint %v, ImageBinary %s", ref, cf.Config.Entrypoint, version.ImageBinary(c))
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.source":   Source,
				"org.opencontainers.image.revision": o.Commit,
				"org.opencontainers.image.version":  o.Version,
				"org.opencontainers.image.created":  "2026-11-30T12:00:00Z",
			} {
				if cf.Config.Labels[k] != want {
					t.Errorf("%s: label %s=%q, want %q", ref, k, cf.Config.Labels[k], want)
				}
			}
			if !cf.Created.Time.Equal(o.Created) {
				t.Errorf("%s: created %s", ref, cf.Created)
			}
			files := imageFiles(t, img)
			bin := files["usr/local/bin/kubectl-iter8_"+c]
			if bin == nil || string(bin.data) != "binary of "+c+" for "+o.Platforms[i] || bin.Mode != 0o755 {
				t.Errorf("%s %s: binary %+v", ref, d.Platform, bin)
			}
			passwd := files["etc/passwd"]
			if passwd == nil || !strings.Contains(string(passwd.data), "nonroot:x:65532:65532:nonroot:/home/nonroot:") {
				t.Errorf("%s: /etc/passwd %+v", ref, passwd)
			}
			if tmp := files["tmp/"]; tmp == nil || tmp.Mode != 0o1777 {
				t.Errorf("%s: /tmp %+v", ref, tmp)
			}
			if home := files["home/nonroot/"]; home == nil || home.Uid != 65532 {
				t.Errorf("%s: home %+v", ref, home)
			}
			if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || strings.Count(string(ca.data), "BEGIN CERTIFICATE") < 100 {
				t.Errorf("%s: CA bundle missing or short", ref)
			}
			if tz := files["usr/share/zoneinfo/Europe/Berlin"]; tz == nil || !strings.HasPrefix(string(tz.data), "TZif") {
				t.Errorf("%s: no zoneinfo for Europe/Berlin", ref)
			}
			for n, f := range files {
				if !f.ModTime.Equal(o.Created) {
					t.Errorf("%s: %s has time %s", ref, n, f.ModTime)
					break
				}
			}
		}
	}
}

func TestBuildRejectsBadOptions(t *testing.T) {
	o := testOptions(t)
	o.Platforms = []string{"windows/amd64", "linux/amd64", "linux/amd64"}
	o.Version = "not a tag"
	_, err := Build(o)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`platform "windows/amd64": want linux/ARCH`, `platform "linux/amd64": given twice`, `image reference "registry.test/iter8/kubectl-iter8-run:not a tag"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	o = testOptions(t)
	o.Binary = func(string, string) string { return "/nonexistent/kubectl-iter8_run" }
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "/nonexistent/kubectl-iter8_run") {
		t.Errorf("missing binary: %v", err)
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	indexes, err := Build(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "images")
	if err := WriteLayout(dir, indexes); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatal(err)
	}
	read, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, got := digests(t, indexes), digests(t, read)
	if len(got) != len(want) {
		t.Fatalf("read %v, wrote %v", got, want)
	}
	for ref, d := range want {
		if got[ref] != d {
			t.Errorf("%s: read %s, wrote %s", ref, got[ref], d)
		}
	}
	// Writing again replaces the layout: still one entry per image.
	if err := WriteLayout(dir, indexes); err != nil {
		t.Fatal(err)
	}
	if read, err = ReadLayout(dir); err != nil || len(read) != len(want) {
		t.Fatalf("after a second write: %d images, %v", len(read), err)
	}
	if _, err := ReadLayout(t.TempDir()); err == nil {
		t.Error("an empty directory reads as a layout")
	}
}

type file struct {
	*tar.Header
	data []byte
}

// imageFiles are the files of img's layers, by tar name.
func imageFiles(t *testing.T, img v1.Image) map[string]*file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*file{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = &file{h, data}
		}
		rc.Close()
	}
	return out
}
