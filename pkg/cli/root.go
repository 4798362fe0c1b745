// Package cli is the command-line plumbing shared by the iter8 kubectl plugins:
// the cobra root with kubectl's standard configuration flags, the output
// contract (-o table|json|yaml), the version and completion commands, and
// terminal detection for colour.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	// Register the client-go authentication plugins (exec, OIDC) so that every
	// kubeconfig kubectl understands works here too.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

// Plugin names one of the iter8 kubectl plugins.
type Plugin struct {
	// Name is the plugin as typed after kubectl, e.g. "iter8-run".
	Name string
	// Short is the one-line description shown in help.
	Short string
	// Long is the description shown by --help of the root command.
	Long string
}

// Binary is the executable kubectl looks up for the plugin, e.g.
// "kubectl-iter8_run": kubectl turns dashes in the typed name into underscores.
func (p Plugin) Binary() string {
	b := []byte("kubectl-" + p.Name)
	for i := len("kubectl-"); i < len(b); i++ {
		if b[i] == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Root is a plugin's root command with the state its subcommands share.
type Root struct {
	// Command is the cobra root command.
	Command *cobra.Command
	// ConfigFlags are kubectl's --kubeconfig, --context, -n, ... flags.
	ConfigFlags *genericclioptions.ConfigFlags
	// Streams are the standard input, output and error of the plugin.
	Streams genericiooptions.IOStreams
}

// NewRoot builds the root command of a plugin with kubectl's configuration
// flags, the version command and shell completion. Callers add their own
// subcommands to Root.Command.
func NewRoot(p Plugin, streams genericiooptions.IOStreams) *Root {
	flags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		Use:   p.Name,
		Short: p.Short,
		Long:  p.Long,
		// Help is shown as "kubectl iter8-run ...", the way users call it.
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl " + p.Name},
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(NewVersionCommand(streams))
	return &Root{Command: cmd, ConfigFlags: flags, Streams: streams}
}

// StdStreams returns the process's standard streams.
func StdStreams() genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
}

// ExitError makes Execute exit with Code after printing Err, if any. Commands
// such as assert use it to report a result through the exit code.
type ExitError struct {
	// Code is the process exit code.
	Code int
	// Err is printed to stderr when not nil.
	Err error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Execute runs the command with args, cancelling its context on SIGINT or
// SIGTERM, prints an error to stderr, and returns the process exit code.
func Execute(cmd *cobra.Command, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var exit *ExitError
	if errors.As(err, &exit) {
		code = exit.Code
		if exit.Err == nil {
			return code
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
	return code
}

// Namespace resolves the namespace of an object read from a file whose own
// namespace is fromFile (what names it in errors, e.g. "the Route's
// namespace"): -n, else fromFile, else the kubeconfig context's (default
// "default"). -n and a different fromFile conflict, as with kubectl apply.
func Namespace(f *genericclioptions.ConfigFlags, fromFile, what string) (string, error) {
	ns, explicit, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	switch {
	case explicit && fromFile != "" && fromFile != ns:
		return "", fmt.Errorf("%s %q does not match the namespace %q of flag -n/--namespace", what, fromFile, ns)
	case explicit:
		return ns, nil
	case fromFile != "":
		return fromFile, nil
	}
	return ns, nil
}
