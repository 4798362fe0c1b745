// Command abn is the example app of the A/B/n walk-through (docs/abn.md): a
// shop's front end, two versions of its recommendation back end, a router
// standing in for the mesh, and shoppers.
//
//	go run ./examples/abn local --abn localhost:50051 --users 1000
//
// runs everything on loopback against an A/B/n service and prints what the
// shoppers did; the other commands run one piece each, as in a cluster.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iter8-tools/iter8/examples/abn/app"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
)

const usage = `usage: abn COMMAND [flags]

commands:
  local     run back ends v1 and v2, a router, the front end and shoppers on loopback
  backend   serve one version of the recommendation back end
  router    route requests to back ends by their x-iter8-version header (as a Route would)
  frontend  serve the shop's front end
  shop      send shoppers to a front end and print what they did
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	switch args[0] {
	case "backend":
		version := fs.String("version", "v1", "version of the back end")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serve(ctx, *listen, app.Backend(*version), stderr)
	case "router":
		primary := fs.String("primary", "v1", "version that takes requests without a known version")
		versions := fs.String("versions", "", "VERSION=URL,... of the back ends")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		backends, err := parseVersions(*versions)
		if err != nil {
			return err
		}
		h, err := app.Router(*primary, backends)
		if err != nil {
			return err
		}
		return serve(ctx, *listen, h, stderr)
	case "frontend":
		endpoint := fs.String("abn", "localhost:50051", "gRPC address of the A/B/n service")
		name := fs.String("app", "checkout", "application name in iter8")
		backend := fs.String("backend", "", "base URL of the back end (the Route's host, or a router)")
		def := fs.String("default-version", "v1", "version for shoppers when iter8 does not answer")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *backend == "" {
			return errors.New("flag -backend is required")
		}
		c, err := sdk.New(*endpoint, sdk.WithDefaultVersion(*def), sdk.WithErrorHandler(func(err error) {
			fmt.Fprintf(stderr, "iter8: %v\n", err)
		}))
		if err != nil {
			return err
		}
		err = serve(ctx, *listen, &app.Frontend{ABN: c, App: *name, Backend: *backend}, stderr)
		return errors.Join(err, closeClient(c))
	case "shop":
		frontend := fs.String("frontend", "", "base URL of the front end")
		users := fs.Int("users", 1000, "number of shoppers")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t, err := app.Shop(ctx, *frontend, app.Shoppers(*users), 8)
		if err != nil {
			return err
		}
		return printJSON(stdout, t)
	case "local":
		endpoint := fs.String("abn", "localhost:50051", "gRPC address of the A/B/n service")
		name := fs.String("app", "checkout", "application name in iter8")
		users := fs.Int("users", 1000, "number of shoppers")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t, err := local(ctx, *endpoint, *name, *users, stderr)
		if err != nil {
			return err
		}
		return printJSON(stdout, t)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// local runs the whole shop on loopback against the A/B/n service at
// endpoint, sends users shoppers to it, waits until their sales are
// recorded, and returns what they did.
func local(ctx context.Context, endpoint, name string, users int, log io.Writer) (app.Tally, error) {
	c, err := sdk.New(endpoint, sdk.WithDefaultVersion("v1"), sdk.WithErrorHandler(func(err error) {
		fmt.Fprintf(log, "iter8: %v\n", err)
	}))
	if err != nil {
		return app.Tally{}, err
	}
	t, err := app.Local(ctx, c, name, app.Shoppers(users), log)
	// Every sale is recorded before this returns.
	return t, errors.Join(err, closeClient(c))
}

func closeClient(c *sdk.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Close(ctx)
}

func parseVersions(s string) (map[string]*url.URL, error) {
	out := map[string]*url.URL{}
	for _, kv := range strings.Split(s, ",") {
		v, raw, ok := strings.Cut(kv, "=")
		u, err := url.Parse(raw)
		if !ok || err != nil || u.Host == "" {
			return nil, fmt.Errorf("invalid value %q for flag -versions: want VERSION=URL, comma-separated", s)
		}
		out[v] = u
	}
	return out, nil
}

// serve serves h on addr until ctx ends.
func serve(ctx context.Context, addr string, h http.Handler, log io.Writer) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(log, "serving on http://%s\n", l.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
