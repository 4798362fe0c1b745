package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/version"
)

// VersionOptions are the options of the version command.
type VersionOptions struct {
	genericiooptions.IOStreams
	// Output is the -o flag.
	Output *OutputFlags
}

// NewVersionCommand returns the version command.
func NewVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams, Output: NewOutputFlags()}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of this plugin",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.Output.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Output.AddFlags(cmd)
	return cmd
}

// Run prints the build information.
func (o *VersionOptions) Run() error {
	info := version.Get()
	return o.Output.Print(o.Out, info, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "Version:   %s\nCommit:    %s\nBuilt:     %s\nGo:        %s\nPlatform:  %s\n",
			info.Version, info.Commit, info.BuildDate, info.GoVersion, info.Platform)
		return err
	})
}

// WarnDefaultImage writes on w version.DefaultImageWarning when a command
// that deploys uses image, its default: the default image of a build that
// is not a release may not be published.
func WarnDefaultImage(w io.Writer, image, defaultImage string) {
	if image != defaultImage {
		return
	}
	if msg := version.DefaultImageWarning(image); msg != "" {
		fmt.Fprintln(w, msg)
	}
}
