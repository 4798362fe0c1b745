package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/legacypb"
)

// legacy serves Iter8's A/B/n API (main.ABN, Iter8 v0.15 to v1.1) over the
// service: an application namespace/name is the application name of the
// service's namespace, the version number the version's index, and a
// metric's value a decimal string. Errors are those of the service's own
// API, and calls are counted with its methods' metrics.
type legacy struct {
	legacypb.UnimplementedABNServer
	s *Service
}

// application is the service's application named by Iter8's
// namespace/name.
func (l legacy) application(field, name string) (string, error) {
	ns, app, ok := strings.Cut(name, "/")
	if !ok || ns == "" || app == "" {
		return "", status.Errorf(codes.InvalidArgument, "%s %q: Iter8's API names an application namespace/name", field, name)
	}
	if ns != l.s.opts.Namespace {
		return "", status.Errorf(codes.NotFound, "application %q not found: this service serves namespace %s", name, l.s.opts.Namespace)
	}
	return app, nil
}

// Lookup returns the index of the user's version.
func (l legacy) Lookup(_ context.Context, req *legacypb.Application) (*legacypb.VersionRecommendation, error) {
	app, err := l.application("name", req.GetName())
	if err != nil {
		return nil, err
	}
	v, err := l.s.lookup(&abnpb.LookupRequest{Application: app, User: req.GetUser()})
	if err != nil {
		return nil, err
	}
	return &legacypb.VersionRecommendation{VersionNumber: v.GetIndex()}, nil
}

// WriteMetric records one value durably.
func (l legacy) WriteMetric(ctx context.Context, req *legacypb.MetricValue) (*emptypb.Empty, error) {
	app, err := l.application("application", req.GetApplication())
	if err != nil {
		return nil, err
	}
	value, err := strconv.ParseFloat(strings.TrimSpace(req.GetValue()), 64)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("value %q of metric %q is not a number", req.GetValue(), req.GetName()))
	}
	if _, err := l.s.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: app, User: req.GetUser(), Metric: req.GetName(), Value: value}); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
