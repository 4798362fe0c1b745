// Package version holds the build information stamped into every iter8 binary.
package version

import (
	"fmt"
	"regexp"
	"runtime"
)

// These are set at link time by the Makefile with -ldflags "-X ...".
var (
	// Version is the version of the build: vX.Y.Z for a release (a tree at
	// an exact tag), v0.0.0-<commit time>-<12 hex digits of the commit>[-dirty]
	// between releases (hack/version.sh), or "dev" for a build without the
	// Makefile (go run).
	Version = "dev"
	// Commit is the Git commit the binary was built from.
	Commit = "unknown"
	// BuildDate is the commit date in RFC 3339, so that builds are reproducible.
	BuildDate = "unknown"
	// ImageRepository is where this build's images are published (no
	// trailing slash); make images and make push take it from IMAGE_REPO.
	ImageRepository = "ghcr.io/iter8-tools"
)

// ImageUID is the numeric user (and group) iter8's images run as, and the
// runAsUser/runAsGroup of every pod iter8 creates.
const ImageUID int64 = 65532

// Info is the build information of a binary, as printed by the version command.
type Info struct {
	// Version is the release version.
	Version string `json:"version"`
	// Commit is the Git commit.
	Commit string `json:"commit"`
	// BuildDate is when the commit was made.
	BuildDate string `json:"buildDate"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		Commit:    Commit,
		BuildDate: BuildDate,
		GoVersion: runtime.Version(),
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

var (
	releaseRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	taggedRE  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
)

// IsRelease reports whether this build is a release (Version is vX.Y.Z).
func IsRelease() bool { return releaseRE.MatchString(Version) }

// ImageName is the repository of component's image, without a tag:
// ImageRepository/kubectl-iter8-<component>, component one of run, route, abn.
func ImageName(component string) string {
	return ImageNameIn(ImageRepository, component)
}

// ImageNameIn is the name of component's image in repository:
// REPOSITORY/kubectl-iter8-<component>.
func ImageNameIn(repository, component string) string {
	return repository + "/kubectl-iter8-" + component
}

// Image is the default image of component for this build: ImageName tagged
// with Version, the tag make images and make push give it. A build without
// a version (go run) names the latest release's image.
func Image(component string) string {
	tag := "latest"
	if taggedRE.MatchString(Version) {
		tag = Version
	}
	return ImageName(component) + ":" + tag
}

// ImageBinary is the path of component's binary inside its image, the
// image's entrypoint.
func ImageBinary(component string) string {
	return "/usr/local/bin/kubectl-iter8_" + component
}

// DefaultImageWarning is what a command that deploys prints on stderr when
// it uses the default image of a build that is not a release, whose tag may
// not be published; "" for a release.
func DefaultImageWarning(image string) string {
	if IsRelease() {
		return ""
	}
	return fmt.Sprintf("warning: %s is the default image of a build that is not a release (version %s); publish it with make push IMAGE_REPO=... and pass --image, or use a release", image, Version)
}
