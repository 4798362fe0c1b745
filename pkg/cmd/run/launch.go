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
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// LaunchOptions are the options of launch.
type LaunchOptions struct {
	genericiooptions.IOStreams
	// Flags are kubectl's configuration flags.
	Flags *genericclioptions.ConfigFlags
	// File is the experiment file (-f).
	File string
	// Local runs the experiment in this process (--local).
	Local bool
	// ResultPath is where a local run's result goes (--result); default
	// result.yaml next to the experiment file.
	ResultPath string
	// Job shapes the experiment's Job: --image, --schedule and its
	// environment.
	Job jobFlags
	// Manifests print the objects instead of creating them (--dry-run,
	// -o).
	Manifests *cli.ManifestFlags

	spec []byte
	exp  *experiment.Experiment
}

// NewLaunchCommand returns the launch command.
func NewLaunchCommand(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LaunchOptions{IOStreams: streams, Flags: f, Manifests: cli.NewManifestFlags(false)}
	cmd := &cobra.Command{
		Use:   "launch -f experiment.yaml [--local]",
		Short: "Run an experiment, in the cluster or locally",
		Long: `Run the tasks of an experiment in order and store its result.

By default the experiment runs in the cluster, in the namespace of -n (or the
experiment's metadata.namespace): launch creates a Secret iter8-NAME holding the spec
and, as the Job writes it after every task, the result; a ServiceAccount with a Role
that may only read and update that Secret and read the objects of ready tasks; and a
Job running the --image. Launching a name that exists replaces it. --schedule makes a
CronJob whose runs add iterations to the stored result. --dry-run=client prints the
objects instead of creating them.

The files the tasks read (payloadFile, protoFile and its imports, protoset, caFile,
providerFile) go into the Secret and are mounted in the Job's pod where the spec names
them. Environment variables the tasks read (notify's urlEnv and tokenEnv,
custommetrics' credentials) come from Secrets of the namespace: --secret-env
VAR=SECRET/KEY for one key, --env-from-secret SECRET for all of a Secret's keys; launch
checks that they exist before it creates anything.

With --local the experiment runs in this process: progress goes to stderr and the
result is written (atomically, after every task) to result.yaml next to the
experiment file, or to --result. Ctrl-C stops the run and still writes the partial
result, marked failed; the exit code is 1 when the experiment failed.`,
		Example: `  kubectl iter8-run launch -f experiment.yaml -n staging
  kubectl iter8-run launch -f experiment.yaml --schedule "*/10 * * * *"
  kubectl iter8-run launch -f experiment.yaml --secret-env SLACK_WEBHOOK_URL=slack/url
  kubectl iter8-run launch -f experiment.yaml --dry-run=client -o yaml
  kubectl iter8-run launch -f experiment.yaml --local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "experiment file")
	cmd.Flags().BoolVar(&o.Local, "local", false, "run the experiment in this process instead of the cluster")
	cmd.Flags().StringVar(&o.ResultPath, "result", "", "result file of a local run (default: result.yaml next to the experiment file)")
	o.Job.addFlags(cmd)
	o.Manifests.AddFlags(cmd, "creating")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Validate checks the flags.
func (o *LaunchOptions) Validate() error {
	if o.File == "" {
		return errors.New("flag -f/--filename is required: the experiment file to run")
	}
	if o.Local && (o.Job.set() || o.Manifests.DryRun != cli.DryRunNone) {
		return errors.New("flags --image, --schedule, --env-from-secret, --secret-env and --dry-run are for in-cluster runs: not with --local")
	}
	if !o.Local && o.ResultPath != "" {
		return errors.New("flag --result is for local runs: use it with --local")
	}
	return o.Manifests.Validate()
}

// Complete reads and parses the experiment and fills in defaults.
func (o *LaunchOptions) Complete() error {
	if o.Local && o.ResultPath == "" {
		o.ResultPath = filepath.Join(filepath.Dir(o.File), experiment.ResultFileName)
	}
	spec, err := os.ReadFile(o.File)
	if err != nil {
		return fmt.Errorf("reading experiment: %w", err)
	}
	o.spec = spec
	o.exp, err = experiment.Parse(o.File, filepath.Dir(o.File), spec, tasks.Registry())
	return err
}

// Run runs the experiment locally, or creates (or prints) its objects.
func (o *LaunchOptions) Run(ctx context.Context) error {
	if o.Local {
		return o.runLocal(ctx)
	}
	ns, err := namespace(o.Flags, o.exp.Metadata.Namespace)
	if err != nil {
		return err
	}
	ro, err := o.Job.options(ctx, o.exp, ns, filepath.Dir(o.File))
	if err != nil {
		return err
	}
	objs, err := runner.Objects(o.exp, o.spec, ro)
	if err != nil {
		return err
	}
	if o.Manifests.DryRun == cli.DryRunClient {
		o.Job.warnDefaultImage(o.ErrOut)
		us, err := manifest.FromObjects(objs)
		if err != nil {
			return err
		}
		_, err = o.Manifests.Emit(o.Out, o.ErrOut, us)
		return err
	}
	c, err := clusterClient(o.Flags)
	if err != nil {
		return err
	}
	if err := runner.CheckSecrets(ctx, c, ns, o.exp, ro); err != nil {
		return err
	}
	o.Job.warnDefaultImage(o.ErrOut)
	if err := runner.Launch(ctx, c, objs); err != nil {
		return err
	}
	kind := "Job"
	if o.Job.Schedule != "" {
		kind = "CronJob"
	}
	name := o.exp.Metadata.Name
	fmt.Fprintf(o.ErrOut, "experiment %s launched in namespace %s (%s %s)\n", name, ns, kind, runner.ObjectName(name))
	fmt.Fprintf(o.ErrOut, "see it with: kubectl iter8-run report %s -n %s\n", name, ns)
	return nil
}

func (o *LaunchOptions) runLocal(ctx context.Context) error {
	cluster := genericclioptions.RESTClientGetter(o.Flags)
	ns, err := namespace(o.Flags, o.exp.Metadata.Namespace)
	if err != nil {
		return err
	}
	res, err := runLocal(ctx, o.exp, o.ResultPath, o.ErrOut, cluster, ns)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "result written to %s; see it with: kubectl iter8-run report --result %s\n", o.ResultPath, o.ResultPath)
	if res.Failed {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("experiment %s failed: %s", o.exp.Metadata.Name, res.Error)}
	}
	return nil
}
