package run

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// LaunchOptions are the options of launch.
type LaunchOptions struct {
	genericiooptions.IOStreams
	// File is the experiment file (-f).
	File string
	// Local runs the experiment in this process (--local).
	Local bool
	// ResultPath is where the result goes (--result); default result.yaml
	// next to the experiment file.
	ResultPath string
}

// NewLaunchCommand returns the launch command.
func NewLaunchCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &LaunchOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "launch -f experiment.yaml --local",
		Short: "Run an experiment",
		Long: `Run the tasks of an experiment in order and write its result.

With --local the experiment runs in this process: progress goes to stderr and the
result is written (atomically, after every task) to result.yaml next to the
experiment file, or to --result. Ctrl-C stops the run and still writes the partial
result, marked failed. The exit code is 1 when the experiment failed.`,
		Example: `  kubectl iter8-run launch -f experiment.yaml --local
  kubectl iter8-run report`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "experiment file")
	cmd.Flags().BoolVar(&o.Local, "local", false, "run the experiment in this process")
	cmd.Flags().StringVar(&o.ResultPath, "result", "", "result file (default: result.yaml next to the experiment file)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete fills in the default result path.
func (o *LaunchOptions) Complete() error {
	if o.ResultPath == "" && o.File != "" {
		o.ResultPath = filepath.Join(filepath.Dir(o.File), experiment.ResultFileName)
	}
	return nil
}

// Validate checks the flags.
func (o *LaunchOptions) Validate() error {
	if o.File == "" {
		return errors.New("flag -f/--filename is required: the experiment file to run")
	}
	if !o.Local {
		return errors.New("flag --local is required: experiments run in this process")
	}
	return nil
}

// Run parses the experiment, runs it and writes its result.
func (o *LaunchOptions) Run(ctx context.Context) error {
	exp, err := experiment.ParseFile(o.File, tasks.Registry())
	if err != nil {
		return err
	}
	res, err := runLocal(ctx, exp, o.ResultPath, o.ErrOut)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "result written to %s; see it with: kubectl iter8-run report --result %s\n", o.ResultPath, o.ResultPath)
	if res.Failed {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("experiment %s failed: %s", exp.Metadata.Name, res.Error)}
	}
	return nil
}
