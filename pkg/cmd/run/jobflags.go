package run

import (
	"cmp"
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/runner"
)

// jobFlags shape an in-cluster experiment's Job: the flags launch and
// generate share.
type jobFlags struct {
	// Image runs the experiment's Job (--image).
	Image string
	// Schedule makes a CronJob (--schedule).
	Schedule string
	// EnvFromSecrets are --env-from-secret.
	EnvFromSecrets []string
	// SecretEnv are --secret-env, VAR=SECRET/KEY.
	SecretEnv []string
	// Pin pins the image by digest (--pin, --image-layout).
	Pin cli.PinFlags
}

func (f *jobFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.Image, "image", "", "image of the experiment's Job (default: "+runner.DefaultImage()+")")
	fl.StringVar(&f.Schedule, "schedule", "", `run periodically, as a CronJob with this schedule (e.g. "*/10 * * * *")`)
	fl.StringArrayVar(&f.EnvFromSecrets, "env-from-secret", nil, "Secret of the experiment's namespace whose every key becomes an environment variable of the Job (repeatable)")
	fl.StringArrayVar(&f.SecretEnv, "secret-env", nil, "VAR=SECRET/KEY: the Job's environment variable VAR holds KEY of the Secret SECRET of the experiment's namespace (repeatable)")
	f.Pin.AddFlags(fl)
	_ = cmd.MarkFlagDirname("image-layout")
}

// set reports whether a flag for the cluster's Job is set.
func (f *jobFlags) set() bool {
	return f.Image != "" || f.Pin.Pin || f.Pin.Layout != "" || f.Schedule != "" || len(f.EnvFromSecrets) > 0 || len(f.SecretEnv) > 0
}

// options are the runner's options for exp, from the experiment file's
// folder dir: the files its tasks read, and its environment.
func (f *jobFlags) options(ctx context.Context, exp *experiment.Experiment, namespace, dir string) (runner.Options, error) {
	o := runner.Options{Namespace: namespace, Image: f.Image, Schedule: f.Schedule, EnvFromSecrets: f.EnvFromSecrets}
	if f.Pin.Pin || f.Pin.Layout != "" {
		var err error
		if o.Image, err = f.Pin.Apply(ctx, cmp.Or(f.Image, runner.DefaultImage())); err != nil {
			return o, err
		}
	}
	for _, s := range f.SecretEnv {
		e, err := runner.ParseSecretEnv("--secret-env", s)
		if err != nil {
			return o, err
		}
		o.SecretEnv = append(o.SecretEnv, e)
	}
	files, err := runner.ReadFiles(exp, dir)
	if err != nil {
		return o, err
	}
	o.Files = files
	return o, nil
}

// warnDefaultImage says on w when the Job runs this build's default image
// and the build is not a release.
func (f *jobFlags) warnDefaultImage(w io.Writer) {
	cli.WarnDefaultImage(w, cmp.Or(f.Image, runner.DefaultImage()), runner.DefaultImage())
}
