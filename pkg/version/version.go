// Package version holds the build information stamped into every iter8 binary.
package version

import (
	"fmt"
	"runtime"
	"strings"
)

// These are set at link time by the Makefile with -ldflags "-X ...".
var (
	// Version is the release version, e.g. v0.1.0, or "dev" for a local build.
	Version = "dev"
	// Commit is the Git commit the binary was built from.
	Commit = "unknown"
	// BuildDate is the commit date in RFC 3339, so that builds are reproducible.
	BuildDate = "unknown"
)

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

// ImageRepository is where iter8's images are published.
const ImageRepository = "ghcr.io/iter8-tools/"

// Image is the image of this build named name, e.g. "iter8": tagged with
// Version for a release (vX.Y.Z), else latest, since only releases are
// published.
func Image(name string) string {
	tag := "latest"
	if strings.HasPrefix(Version, "v") && strings.Count(Version, ".") == 2 && !strings.ContainsAny(Version, "-+") {
		tag = Version
	}
	return ImageRepository + name + ":" + tag
}
