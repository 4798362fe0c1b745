package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/version"
)

// TestReleaseArtefactsAgree builds the release artefacts of a clone of this
// commit for this machine's platform, as make dist and make images do
// between releases: archives, krew manifests, binaries and image tags carry
// one version, which krew accepts (v0.0.0-TIME-COMMIT), and the manifests'
// checksums are the archives'.
func TestReleaseArtefactsAgree(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "iter8")
	mustRunIn(t, root, "git", "clone", "--quiet", "--no-local", root, clone)
	commit := strings.TrimSpace(mustRunIn(t, clone, "git", "rev-parse", "HEAD"))
	ver := strings.TrimSpace(mustRunIn(t, clone, "hack/version.sh"))
	if !regexp.MustCompile(`^v0\.0\.0-[0-9]{14}-` + commit[:12] + `$`).MatchString(ver) {
		t.Fatalf("hack/version.sh on an untagged commit %s: %q", commit, ver)
	}
	platform := "linux/" + runtime.GOARCH
	mustRunIn(t, clone, "make", "dist", "DIST_PLATFORMS="+platform)
	reg := testenv.StartRegistry(t)
	repo := reg.Host + "/iter8"
	mustRunIn(t, clone, "make", "images", "PLATFORMS="+platform, "IMAGE_REPO="+repo)
	built, err := os.ReadFile(filepath.Join(clone, "dist", "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// make push builds the images again (the same digests) and pushes them
	// with the Docker config's credentials.
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	pushed := mustRunIn(t, clone, "make", "--no-print-directory", "push", "PLATFORMS="+platform, "IMAGE_REPO="+repo)
	if !strings.HasSuffix(pushed, string(built)) || len(built) == 0 {
		t.Errorf("make images printed\n%s\nmake push\n%s", built, pushed)
	}

	for _, p := range []string{"run", "route", "abn"} {
		name := "kubectl-iter8_" + p + "_" + ver + "_linux_" + runtime.GOARCH + ".tar.gz"
		archive := filepath.Join(clone, "dist", name)
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatalf("make dist wrote no %s: %v", name, err)
		}
		sum := sha256.Sum256(data)
		manifest, err := os.ReadFile(filepath.Join(clone, "krew-manifests", "iter8-"+p+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"  version: " + ver + "\n", "/" + ver + "/" + name + "\n", "sha256: " + hex.EncodeToString(sum[:]) + "\n"} {
			if !strings.Contains(string(manifest), want) {
				t.Errorf("krew manifest of %s does not say %q:\n%s", p, want, manifest)
			}
		}
		unpacked := t.TempDir()
		mustRunIn(t, clone, "tar", "-xzf", archive, "-C", unpacked)
		var info version.Info
		if err := json.Unmarshal([]byte(mustRunIn(t, clone, filepath.Join(unpacked, "kubectl-iter8_"+p), "version", "-o", "json")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Version != ver || info.Commit != commit {
			t.Errorf("the %s binary of the archive is %+v, want version %s, commit %s", p, info, ver, commit)
		}
	}
	// make images tags the images with the same version, and says each
	// image's digest.
	f, err := os.Open(filepath.Join(clone, "dist", "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var refs []string
	for s := bufio.NewScanner(f); s.Scan(); {
		refs = append(refs, s.Text())
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(repo) + `/kubectl-iter8-(run|route|abn):` + regexp.QuoteMeta(ver) + `@sha256:[0-9a-f]{64}$`)
	if len(refs) != 3 {
		t.Fatalf("dist/images.txt: %q", refs)
	}
	for _, r := range refs {
		m := re.FindStringSubmatch(r)
		if m == nil {
			t.Errorf("dist/images.txt: %q is not %s", r, re)
			continue
		}
		// Pulled back by digest: this platform's image, as the user, with
		// the binary as entrypoint and the build's labels.
		d, err := name.NewDigest(r)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(d, remote.WithAuth(reg.Auth()), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
		if err != nil {
			t.Fatalf("pulling %s: %v", r, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != runtime.GOARCH || cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != version.ImageBinary(m[1]) ||
			cf.Config.Labels["org.opencontainers.image.revision"] != commit || cf.Config.Labels["org.opencontainers.image.version"] != ver {
			t.Errorf("%s: config %s %+v", r, cf.Architecture, cf.Config)
		}
	}
}

// mustRunIn runs name with args in dir and returns its stdout, failing the test
// with its output if it fails.
func mustRunIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errOut.String())
	}
	return string(out)
}
