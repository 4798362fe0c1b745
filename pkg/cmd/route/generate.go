package route

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route"
)

// GenerateOptions are the options of generate.
type GenerateOptions struct {
	genericiooptions.IOStreams
	// ConfigFlags give the namespace (-n, or the kubeconfig's) of a Route
	// file that names none.
	ConfigFlags *genericclioptions.ConfigFlags
	// File is the Route file (-f).
	File string
	// OutDir is the kustomize folder to write (--out).
	OutDir string
	// Output prints the objects instead (-o yaml|json).
	Output *cli.OutputFlags
	// Commit commits the folder into its Git repository (--commit).
	Commit bool
	// Push pushes the commit (--push).
	Push bool
	// Remote is the Git remote pushed to (--remote).
	Remote string
}

// NewGenerateOptions returns the options of generate with their defaults.
func NewGenerateOptions(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *GenerateOptions {
	out := cli.NewOutputFlags(cli.OutputYAML, cli.OutputJSON)
	out.Format = "" // no -o: write --out
	return &GenerateOptions{IOStreams: streams, ConfigFlags: flags, Output: out, Remote: "origin"}
}

// NewGenerateCommand returns the generate command.
func NewGenerateCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := NewGenerateOptions(streams, flags)
	cmd := &cobra.Command{
		Use:   "generate -f route.yaml (--out DIR [--commit [--push]] | -o yaml|json)",
		Short: "Render a Route into a kustomize folder for GitOps, or print the objects",
		Long: `Render the mesh routing resources of a Route, with every version taken as
ready (the declared intent; readiness gating is the reconciler's job).

With --out, write a kustomize folder: kustomization.yaml and a file per object,
<kind>-<name>.yaml. The bytes depend only on the Route, so writing the same Route
again changes nothing; a weight change touches only the weight lines. Files that
an earlier run wrote and that are no longer rendered are removed; other files in
the folder are left alone. Flux can apply the folder as a Kustomization path.

With --commit, commit the folder (and only it) into the Git repository that holds
it, with a message naming the app and the weights; nothing is committed when
nothing changed. With --push, push the branch; when the remote moved on, the
commit is replayed on it and pushed again (never forced). Credentials: the token
in $ITER8_GIT_TOKEN (HTTP basic auth, username $ITER8_GIT_USERNAME or "git"), else
those of your Git credential helper, else those in the remote URL or the SSH agent.
For https, the CA and client certificate of $GIT_SSL_CAINFO, $GIT_SSL_CERT and
$GIT_SSL_KEY, else of http.sslCAInfo, http.sslCert and http.sslKey, as git push.

With -o yaml or -o json, print the objects to stdout instead of writing them.
Nothing is written when the Route is not valid.`,
		Example: `  kubectl iter8-route generate -f route.yaml --out apps/checkout/routing
  kubectl iter8-route generate -f route.yaml --out apps/checkout/routing --commit --push
  kubectl iter8-route generate -f route.yaml -o yaml | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "Route file")
	cmd.Flags().StringVar(&o.OutDir, "out", "", "kustomize folder to write")
	cmd.Flags().BoolVar(&o.Commit, "commit", false, "commit the folder into the Git repository that holds it")
	cmd.Flags().BoolVar(&o.Push, "push", false, "push the commit (with --commit)")
	cmd.Flags().StringVar(&o.Remote, "remote", o.Remote, "Git remote to push to")
	o.Output.AddFlags(cmd)
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// Validate checks the flags.
func (o *GenerateOptions) Validate() error {
	switch {
	case o.File == "":
		return errors.New("flag -f/--filename is required: the Route file to render")
	case o.OutDir == "" && o.Output.Format == "":
		return errors.New("flag --out or -o/--output is required: write a kustomize folder, or print the objects")
	case o.OutDir != "" && o.Output.Format != "":
		return errors.New("flags --out and -o/--output cannot be used together: write a kustomize folder, or print the objects")
	case o.Commit && o.OutDir == "":
		return errors.New("flag --commit needs --out: it commits the folder written")
	case o.Push && !o.Commit:
		return errors.New("flag --push needs --commit: it pushes the commit made")
	case o.Remote == "":
		return errors.New("flag --remote must not be empty")
	}
	if o.Output.Format != "" {
		return o.Output.Validate()
	}
	return nil
}

// Run renders the Route, then prints the objects or writes, commits and
// pushes the folder.
func (o *GenerateOptions) Run(ctx context.Context) error {
	r, err := route.ReadFile(o.File)
	if err != nil {
		return err
	}
	if r.Namespace, err = cli.Namespace(o.ConfigFlags, r.Namespace, "the Route's namespace"); err != nil {
		return err
	}
	out, err := render.Render(r, render.AllVersions(r))
	if err != nil {
		return err
	}
	if o.OutDir == "" {
		return cli.PrintObjects(o.Out, o.Output.Format, out.Objects)
	}

	var repo *gitops.Repository
	if o.Commit {
		// Before writing: a folder outside Git fails with nothing written.
		if repo, err = gitops.OpenRepository(o.OutDir); err != nil {
			return err
		}
	}
	if err := gitops.WriteDir(o.OutDir, out.Objects); err != nil {
		return fmt.Errorf("writing %s: %w", o.OutDir, err)
	}
	objects := "objects"
	if len(out.Objects) == 1 {
		objects = "object"
	}
	fmt.Fprintf(o.ErrOut, "wrote %d %s to %s: %s\n", len(out.Objects), objects, o.OutDir, out.Summary())
	if !o.Commit {
		return nil
	}
	msg := out.CommitMessage(r, "kubectl iter8-route generate")
	h, err := repo.Commit(ctx, gitops.CommitOptions{Paths: []string{o.OutDir}, Message: msg})
	if err != nil {
		return fmt.Errorf("committing %s: %w", o.OutDir, err)
	}
	branch, err := repo.Branch()
	if err != nil {
		return err
	}
	if h.IsZero() {
		fmt.Fprintf(o.ErrOut, "nothing to commit: %s is unchanged\n", o.OutDir)
	} else {
		subject, _, _ := strings.Cut(msg, "\n")
		fmt.Fprintf(o.ErrOut, "committed %s on %s: %s\n", short(h), branch, subject)
	}
	if !o.Push {
		return nil
	}
	if err := push(ctx, repo, o.Remote); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "pushed %s to %s\n", branch, o.Remote)
	return nil
}

func short(h plumbing.Hash) string { return h.String()[:7] }
