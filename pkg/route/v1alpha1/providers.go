package v1alpha1

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ProviderStrategies is the provider support table: the strategies each
// provider can render. KServe and ModelMesh cannot mirror: a mirrored
// request keeps the Host (Knative) or mm-vmodel-id (ModelMesh) header of
// the request it copies, so the primary's predictor or model would serve it.
// The CRD says the same in CEL, as TestCRDRejectsBadRoutes checks.
var ProviderStrategies = map[Provider][]Strategy{
	ProviderIstio:           Strategies,
	ProviderGatewayAPI:      Strategies,
	ProviderTraefik:         Strategies,
	ProviderKServe:          {StrategyBlueGreen, StrategyCanary, StrategyABN},
	ProviderKServeModelMesh: {StrategyBlueGreen, StrategyCanary, StrategyABN},
}

// providerRules report what a provider cannot render in a Route that is
// otherwise valid, given a defaulted copy of it: rules over several
// versions that CEL on the CRD does not express.
var providerRules = map[Provider]func(r *Route) field.ErrorList{
	ProviderIstio: distinctSubsets,
	ProviderGatewayAPI: func(r *Route) field.ErrorList {
		return append(ownServices(r, "the Gateway API routes"), hostNames(r, "the Gateway API takes")...)
	},
	ProviderTraefik: func(r *Route) field.ErrorList {
		return append(append(ownServices(r, "Traefik routes"), hostNames(r, "Traefik's Host rule takes")...), noBackticks(r)...)
	},
	ProviderKServe: appApartFromInferenceServices,
}

// validateStrategy checks a known provider and strategy against the
// support table.
func (s *RouteSpec) validateStrategy() field.ErrorList {
	supported, ok := ProviderStrategies[s.Provider]
	if !ok || !slices.Contains(Strategies, s.Strategy) || slices.Contains(supported, s.Strategy) {
		return nil // a bad provider or strategy is reported as such
	}
	q := make([]string, len(supported))
	for i, v := range supported {
		q[i] = fmt.Sprintf("%q", v)
	}
	return field.ErrorList{{
		Type: field.ErrorTypeNotSupported, Field: "spec.strategy", BadValue: s.Strategy,
		Detail: fmt.Sprintf("provider %s supports %s", s.Provider, strings.Join(q, ", ")),
	}}
}

// validateProvider checks a Route that is otherwise valid against its
// provider's rules.
func (r *Route) validateProvider() field.ErrorList {
	rules := providerRules[r.Spec.Provider]
	if rules == nil {
		return nil
	}
	d := r.DeepCopy()
	d.Default()
	return rules(d)
}

// SubsetLabels are the labels that select a version's pods among its
// Service's: its service labels, or version: NAME.
func (v *Version) SubsetLabels() map[string]string {
	if len(v.Service.Labels) > 0 {
		return v.Service.Labels
	}
	return map[string]string{"version": v.Name}
}

// distinctSubsets reports versions that share a Service and would select
// the same pods (Istio routes to subsets of a Service's pods).
func distinctSubsets(r *Route) field.ErrorList {
	var errs field.ErrorList
	vs := r.Spec.Versions
	for i := range vs {
		for _, w := range vs[:i] {
			if w.Service.Name == vs[i].Service.Name && maps.Equal(w.SubsetLabels(), vs[i].SubsetLabels()) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "versions").Index(i).Child("service", "labels"), vs[i].SubsetLabels(),
					fmt.Sprintf("versions %s and %s share Service %s and would select the same pods: give each its own labels", w.Name, vs[i].Name, w.Service.Name)))
				break
			}
		}
	}
	return errs
}

// ownServices reports versions that share a Service, for providers that
// route to whole Services: who says who routes so.
func ownServices(r *Route, who string) field.ErrorList {
	var errs field.ErrorList
	vs := r.Spec.Versions
	for i := range vs {
		for _, w := range vs[:i] {
			if w.Service.Name == vs[i].Service.Name {
				errs = append(errs, field.Invalid(field.NewPath("spec", "versions").Index(i).Child("service", "name"), vs[i].Service.Name,
					fmt.Sprintf("versions %s and %s share Service %s: %s to whole Services, so each version needs its own", w.Name, vs[i].Name, w.Service.Name, who)))
				break
			}
		}
	}
	return errs
}

// hostNames reports hosts that are IP addresses, for providers that match
// host names only: who says who takes names.
func hostNames(r *Route, who string) field.ErrorList {
	var errs field.ErrorList
	for i, h := range r.Spec.Hosts {
		if net.ParseIP(h) != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "hosts").Index(i), h, who+" host names, not IP addresses"))
		}
	}
	return errs
}

// noBackticks reports match values holding a backtick, which quotes values
// in Traefik's rule syntax.
func noBackticks(r *Route) field.ErrorList {
	var errs field.ErrorList
	check := func(p *field.Path, v string) {
		if strings.Contains(v, "`") {
			errs = append(errs, field.Invalid(p, v, "Traefik rules quote values with backticks, so a value cannot hold one"))
		}
	}
	for i, v := range r.Spec.Versions {
		for j, m := range v.Match {
			mp := field.NewPath("spec", "versions").Index(i).Child("match").Index(j)
			for k, h := range m.Headers {
				hp := mp.Child("headers").Index(k)
				check(hp.Child("name"), h.Name)
				check(hp.Child("value"), h.Value)
			}
			if c := m.Cookie; c != nil {
				check(mp.Child("cookie", "name"), c.Name)
				check(mp.Child("cookie", "value"), c.Value)
			}
		}
	}
	return errs
}

// appApartFromInferenceServices reports an InferenceService named after the
// app: KServe already owns a Service and a VirtualService with its name.
func appApartFromInferenceServices(r *Route) field.ErrorList {
	var errs field.ErrorList
	for i, v := range r.Spec.Versions {
		if v.InferenceService.Name == r.Spec.App {
			errs = append(errs, field.Invalid(field.NewPath("spec", "versions").Index(i).Child("inferenceService", "name"), v.InferenceService.Name,
				fmt.Sprintf("the app %s must be named apart from its InferenceServices: KServe owns a Service and VirtualService named after each", r.Spec.App)))
		}
	}
	return errs
}
