package service_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn/legacypb"
	"github.com/iter8-tools/iter8/pkg/abn/service"
)

// TestIter8API drives the service with a client of Iter8's API (main.ABN,
// generated from a proto written from Iter8's published field list), as a
// front end written for Iter8 would: it gets the version the service's
// own API assigns, its values count once under that version, and bad
// names and values get the statuses of the service's API.
func TestIter8API(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			in := start(t, apps(t), open(t), service.Options{Namespace: "prod"})
			legacy := legacypb.NewABNClient(in.conn)
			ctx := t.Context()
			counts := map[string]int{}
			for i := range 200 {
				rec, err := legacy.Lookup(ctx, &legacypb.Application{Name: "prod/shop", User: user(i)})
				if err != nil {
					t.Fatalf("Lookup: %v", err)
				}
				v := lookup(t, in.client, "shop", user(i))
				if rec.GetVersionNumber() != v.GetIndex() {
					t.Fatalf("user %d: Iter8's API says version %d, the service's %d (%s)", i, rec.GetVersionNumber(), v.GetIndex(), v.GetName())
				}
				counts[v.GetName()]++
				if _, err := legacy.WriteMetric(ctx, &legacypb.MetricValue{Name: "sales", Value: " 12.5 ", Application: "prod/shop", User: user(i)}); err != nil {
					t.Fatalf("WriteMetric: %v", err)
				}
			}
			res, err := in.svc.Results(ctx, "shop")
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Versions {
				if len(v.Metrics) != 1 || v.Metrics[0].Name != "sales" {
					t.Fatalf("version %s: metrics %+v", v.Name, v.Metrics)
				}
				m := v.Metrics[0].Values
				if int(m.Count) != counts[v.Name] || m.Sum != 12.5*float64(counts[v.Name]) || counts[v.Name] == 0 {
					t.Errorf("version %s: %d values summing %g, want %d of 12.5 (the users it was assigned)", v.Name, m.Count, m.Sum, counts[v.Name])
				}
			}

			for _, tc := range []struct {
				what string
				err  error
				code codes.Code
				msg  string
			}{
				{"another namespace", iter8LookupErr(t, legacy, "dev/shop"), codes.NotFound, `application "dev/shop" not found: this service serves namespace prod`},
				{"no namespace", iter8LookupErr(t, legacy, "shop"), codes.InvalidArgument, `name "shop": Iter8's API names an application namespace/name`},
				{"unknown application", iter8LookupErr(t, legacy, "prod/cart"), codes.NotFound, `application "cart" not found`},
				{"value not a number", iter8WriteErr(t, legacy, "prod/shop", "twelve"), codes.InvalidArgument, `value "twelve" of metric "sales" is not a number`},
				{"value NaN", iter8WriteErr(t, legacy, "prod/shop", "NaN"), codes.InvalidArgument, ""},
			} {
				st := status.Convert(tc.err)
				if st.Code() != tc.code || (tc.msg != "" && st.Message() != tc.msg) {
					t.Errorf("%s: %v, want %s %q", tc.what, tc.err, tc.code, tc.msg)
				}
			}
		})
	}
}

func iter8LookupErr(t *testing.T, c legacypb.ABNClient, app string) error {
	_, err := c.Lookup(t.Context(), &legacypb.Application{Name: app, User: "ann"})
	return err
}

func iter8WriteErr(t *testing.T, c legacypb.ABNClient, app, value string) error {
	_, err := c.WriteMetric(t.Context(), &legacypb.MetricValue{Name: "sales", Value: value, Application: app, User: "ann"})
	return err
}
