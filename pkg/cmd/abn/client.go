package abn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/cli"
)

// DefaultEndpoint is where the commands look for the service: where
// `kubectl port-forward svc/iter8-abn 50051` puts it.
const DefaultEndpoint = "localhost:50051"

// EndpointFlags are the flags of commands that call the service and print
// its answer.
type EndpointFlags struct {
	// Endpoint is the service's gRPC address (--endpoint).
	Endpoint string
	// Timeout bounds each call (--timeout).
	Timeout time.Duration
	// Output is -o table|json|yaml.
	Output *cli.OutputFlags
}

// newEndpointFlags returns the flags with the table output by default.
func newEndpointFlags() EndpointFlags {
	return EndpointFlags{Output: cli.NewOutputFlags()}
}

// AddFlags registers --endpoint, --timeout and -o.
func (e *EndpointFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.Endpoint, "endpoint", DefaultEndpoint, "gRPC address (HOST:PORT) of the A/B/n service, e.g. after kubectl port-forward svc/iter8-abn 50051")
	cmd.Flags().DurationVar(&e.Timeout, "timeout", 10*time.Second, "how long to wait for the service")
	e.Output.AddFlags(cmd)
}

// Validate checks the flags.
func (e *EndpointFlags) Validate() error {
	if err := e.Output.Validate(); err != nil {
		return err
	}
	if e.Endpoint == "" {
		return errors.New("flag --endpoint must not be empty: the service's HOST:PORT")
	}
	if e.Timeout <= 0 {
		return fmt.Errorf("invalid value %v for flag --timeout: must be positive", e.Timeout)
	}
	return nil
}

// client returns an SDK client without cache or fallback, and a context
// bounded by the timeout.
func (e *EndpointFlags) client(ctx context.Context) (*sdk.Client, context.Context, context.CancelFunc, error) {
	c, err := sdk.New(e.Endpoint, sdk.WithCacheTTL(0), sdk.WithLookupTimeout(e.Timeout))
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	return c, ctx, func() {
		cancel()
		_ = c.Close(context.Background())
	}, nil
}

// explain turns an error of the service into a message for the command
// line.
func (e *EndpointFlags) explain(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return err
	}
	st := se.GRPCStatus()
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("cannot reach the A/B/n service at %s (flag --endpoint; is `kubectl port-forward svc/iter8-abn 50051` running?): %s", e.Endpoint, st.Message())
	default:
		return errors.New(st.Message())
	}
}
