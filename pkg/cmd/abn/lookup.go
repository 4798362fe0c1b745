package abn

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/internal/terminal"
)

// LookupOptions are the options of lookup.
type LookupOptions struct {
	genericiooptions.IOStreams
	EndpointFlags
	// Application is the first argument.
	Application string
	// User is the second argument.
	User string
}

// NewLookupCommand returns the lookup command.
func NewLookupCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &LookupOptions{IOStreams: streams, EndpointFlags: newEndpointFlags()}
	cmd := &cobra.Command{
		Use:   "lookup APP USER",
		Short: "Show the version a user is assigned to",
		Long: `Ask the A/B/n service which version of an application a user gets, and the header
that routes the user's requests to it. Like every lookup, it counts the user as
assigned to that version.`,
		Example: `  kubectl iter8-abn lookup checkout ann
  kubectl iter8-abn lookup checkout ann -o json --endpoint 127.0.0.1:50051`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Application, o.User = args[0], args[1]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.EndpointFlags.AddFlags(cmd)
	return cmd
}

// Run looks the user up and prints the version.
func (o *LookupOptions) Run(ctx context.Context) error {
	c, ctx, done, err := o.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	v, err := c.Lookup(ctx, o.Application, o.User)
	if err != nil {
		return o.explain(err)
	}
	return o.Output.Print(o.Out, v, func(w io.Writer) error {
		return terminal.Table(w, []string{"version", "index", "header"},
			[][]string{{v.Name, strconv.Itoa(v.Index), v.HeaderName + ": " + v.HeaderValue}})
	})
}

// WriteOptions are the options of write.
type WriteOptions struct {
	genericiooptions.IOStreams
	EndpointFlags
	// Application, User, Metric and Value are the arguments.
	Application, User, Metric string
	// Value is the fourth argument.
	Value float64
}

// written is what write prints.
type written struct {
	// Application is the application.
	Application string `json:"application"`
	// User is the user.
	User string `json:"user"`
	// Metric is the metric.
	Metric string `json:"metric"`
	// Value is the value.
	Value float64 `json:"value"`
	// Version is the version the value was recorded for.
	Version string `json:"version"`
}

// NewWriteCommand returns the write command.
func NewWriteCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &WriteOptions{IOStreams: streams, EndpointFlags: newEndpointFlags()}
	cmd := &cobra.Command{
		Use:   "write APP USER METRIC VALUE",
		Short: "Record a value of a metric for a user",
		Long: `Record one value of a business metric for a user, under the version the user is
assigned to, and print that version. The value is durable when the command returns.`,
		Example: `  kubectl iter8-abn write checkout ann sales 42.5`,
		Args:    cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.EndpointFlags.AddFlags(cmd)
	return cmd
}

// Complete parses the arguments.
func (o *WriteOptions) Complete(args []string) error {
	o.Application, o.User, o.Metric = args[0], args[1], args[2]
	v, err := strconv.ParseFloat(args[3], 64)
	if err != nil {
		return fmt.Errorf("invalid VALUE %q: must be a number", args[3])
	}
	o.Value = v
	return nil
}

// Run records the value.
func (o *WriteOptions) Run(ctx context.Context) error {
	c, ctx, done, err := o.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	version, err := c.WriteMetricSync(ctx, o.Application, o.User, o.Metric, o.Value)
	if err != nil {
		return o.explain(err)
	}
	w := written{Application: o.Application, User: o.User, Metric: o.Metric, Value: o.Value, Version: version}
	return o.Output.Print(o.Out, w, func(out io.Writer) error {
		return terminal.Table(out, []string{"application", "user", "metric", "value", "version"},
			[][]string{{w.Application, w.User, w.Metric, strconv.FormatFloat(w.Value, 'g', -1, 64), w.Version}})
	})
}
