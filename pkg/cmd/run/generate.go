package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// GenerateOptions are the options of generate.
type GenerateOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags (for -n).
	Flags *genericclioptions.ConfigFlags
	// File is the experiment file (-f).
	File string
	// Out is the folder to write (--out).
	Out string
	// Job shapes the experiment's Job: --image, --schedule and its
	// environment.
	Job jobFlags
}

// NewGenerateCommand returns the generate command.
func NewGenerateCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GenerateOptions{IOStreams: streams, Flags: f}
	cmd := &cobra.Command{
		Use:   "generate -f experiment.yaml --out DIR",
		Short: "Write an experiment's objects as a kustomize directory, for GitOps",
		Long: `Write the objects that launch would create as a kustomize directory: a
kustomization.yaml and one file per object (secret-iter8-NAME.yaml, job-iter8-NAME.yaml,
...). The output is byte-for-byte the same for the same input, so committing it again
makes no Git diff; point a Flux Kustomization at DIR to run the experiment. The objects
carry no owner references (they need the UIDs of live objects): Flux's pruning removes
them when they leave the directory. The Job's files and environment are as launch
makes them (see kubectl iter8-run launch --help); the Secrets that --secret-env and
--env-from-secret name must exist where the directory is applied.`,
		Example: `  kubectl iter8-run generate -f experiment.yaml -n staging --out clusters/staging/experiments/checkout`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "experiment file")
	cmd.Flags().StringVar(&o.Out, "out", "", "folder to write the kustomize directory to")
	o.Job.addFlags(cmd)
	return cmd
}

// Validate checks the flags.
func (o *GenerateOptions) Validate() error {
	if o.File == "" {
		return errors.New("flag -f/--filename is required: the experiment file")
	}
	if o.Out == "" {
		return errors.New("flag --out is required: the folder to write")
	}
	return nil
}

// Run writes the directory. Nothing is written when the experiment is invalid.
func (o *GenerateOptions) Run(ctx context.Context) error {
	spec, err := os.ReadFile(o.File)
	if err != nil {
		return fmt.Errorf("reading experiment: %w", err)
	}
	exp, err := experiment.Parse(o.File, filepath.Dir(o.File), spec, tasks.Registry())
	if err != nil {
		return err
	}
	ns, err := namespace(o.Flags, exp.Metadata.Namespace)
	if err != nil {
		return err
	}
	ro, err := o.Job.options(ctx, exp, ns, filepath.Dir(o.File))
	if err != nil {
		return err
	}
	objs, err := runner.Objects(exp, spec, ro)
	if err != nil {
		return err
	}
	o.Job.warnDefaultImage(o.ErrOut)
	us, err := manifest.FromObjects(objs)
	if err != nil {
		return err
	}
	if err := gitops.WriteDir(o.Out, us); err != nil {
		return fmt.Errorf("writing %s: %w", o.Out, err)
	}
	fmt.Fprintf(o.ErrOut, "wrote %d objects and %s to %s\n", len(us), gitops.KustomizationFile, o.Out)
	return nil
}
