package render

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// traefik renders Traefik's own resources (traefik.io/v1alpha1): an
// IngressRoute whose default route goes to a TraefikService that splits
// (weighted) or copies (mirroring) the traffic, a route per matched version,
// and a headers Middleware per version that names it in responses. Unlike
// Traefik's Gateway API provider, this renders mirror.
type traefik struct{}

// The kinds rendered, in traefik.io/v1alpha1.
type (
	traefikObject struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              any `json:"spec"`
	}
	ingressRouteSpec struct {
		EntryPoints []string       `json:"entryPoints,omitempty"`
		Routes      []traefikRoute `json:"routes"`
	}
	traefikRoute struct {
		Match    string           `json:"match"`
		Kind     string           `json:"kind"`
		Priority int              `json:"priority"`
		Services []traefikBackend `json:"services"`
	}
	// traefikBackend is Traefik's LoadBalancerSpec: a Kubernetes Service
	// or a TraefikService.
	traefikBackend struct {
		Name        string          `json:"name"`
		Kind        string          `json:"kind,omitempty"`
		Port        int32           `json:"port,omitempty"`
		Scheme      string          `json:"scheme,omitempty"`
		Weight      *int32          `json:"weight,omitempty"`
		Percent     int32           `json:"percent,omitempty"`
		Middlewares []middlewareRef `json:"middlewares,omitempty"`
	}
	middlewareRef struct {
		Name string `json:"name"`
	}
	traefikServiceSpec struct {
		Weighted  *weighted  `json:"weighted,omitempty"`
		Mirroring *mirroring `json:"mirroring,omitempty"`
	}
	weighted struct {
		Services []traefikBackend `json:"services"`
	}
	mirroring struct {
		traefikBackend `json:",inline"`
		Mirrors        []traefikBackend `json:"mirrors,omitempty"`
	}
	middlewareSpec struct {
		Headers struct {
			CustomResponseHeaders map[string]string `json:"customResponseHeaders"`
		} `json:"headers"`
	}
)

func traefikMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: "traefik.io/v1alpha1", Kind: kind}
}

func (traefik) Render(p *Plan) ([]*unstructured.Unstructured, error) {
	s := &p.Route.Spec
	service := func(i int) traefikBackend {
		v := p.version(i)
		b := traefikBackend{Name: v.Service.Name, Port: v.Service.Port, Middlewares: []middlewareRef{{Name: versionMiddleware(p, i)}}}
		if s.Protocol == v1alpha1.ProtocolGRPC {
			b.Scheme = "h2c"
		}
		return b
	}

	ir := ingressRouteSpec{EntryPoints: s.EntryPoints}
	hosts := hostRule(s.Hosts)
	// Matched versions come first, in the Route's order, above the default.
	priority := len(p.Traffic) + 1
	for i, t := range p.Traffic {
		if !t.Matched {
			continue
		}
		ir.Routes = append(ir.Routes, traefikRoute{Match: and(hosts, traefikMatches(p, i)), Kind: "Rule", Priority: priority, Services: []traefikBackend{service(i)}})
		priority--
	}
	def := hosts
	if def == "" {
		def = "PathPrefix(`/`)"
	}
	ir.Routes = append(ir.Routes, traefikRoute{Match: def, Kind: "Rule", Priority: 1, Services: []traefikBackend{{Name: s.App, Kind: "TraefikService"}}})

	var ts traefikServiceSpec
	if s.Strategy == v1alpha1.StrategyMirror {
		m := &mirroring{traefikBackend: service(p.Primary)}
		for i, t := range p.Traffic {
			if t.MirrorPercent > 0 {
				b := service(i)
				b.Middlewares, b.Percent = nil, t.MirrorPercent // a mirror's responses are discarded
				m.Mirrors = append(m.Mirrors, b)
			}
		}
		ts.Mirroring = m
	} else {
		w := &weighted{}
		for i, t := range p.Traffic {
			if t.Weight > 0 {
				b := service(i)
				b.Weight = &t.Weight
				w.Services = append(w.Services, b)
			}
		}
		ts.Weighted = w
	}

	// What is referenced comes first: Middlewares, the TraefikService, then
	// the IngressRoute. Traefik rebuilds its routing as each object
	// changes, so objects applied in this order never route by a rule to a
	// service it lacks, and routing that takes traffic from a version
	// changes the weights (the TraefikService) before the matches (the
	// IngressRoute): every state between the two routes no more to the
	// version than the old one did. Applied the other way, a rolled-back
	// canary's matched requests reached it through the old weights.
	var objs []any
	for i := range s.Versions {
		var m middlewareSpec
		m.Headers.CustomResponseHeaders = map[string]string{v1alpha1.VersionHeader: p.Traffic[i].Name}
		objs = append(objs, &traefikObject{TypeMeta: traefikMeta("Middleware"), ObjectMeta: objectMeta(p, versionMiddleware(p, i)), Spec: m})
	}
	objs = append(objs,
		&traefikObject{TypeMeta: traefikMeta("TraefikService"), ObjectMeta: objectMeta(p, s.App), Spec: ts},
		&traefikObject{TypeMeta: traefikMeta("IngressRoute"), ObjectMeta: objectMeta(p, s.App), Spec: ir},
	)
	return manifest.ToUnstructured(objs...)
}

// versionMiddleware names the Middleware that names the i-th version in
// responses.
func versionMiddleware(p *Plan, i int) string {
	return p.Route.Spec.App + "-" + p.Traffic[i].Name
}

// hostRule matches any of the hosts; "" when there are none.
func hostRule(hosts []string) string {
	var or []string
	for _, h := range hosts {
		or = append(or, "Host(`"+h+"`)")
	}
	return strings.Join(or, " || ")
}

// traefikMatches is the rule a request needs to reach the i-th version: its
// name in x-iter8-version (abn), or any of its canary matches.
func traefikMatches(p *Plan, i int) string {
	var or []string
	for _, hs := range headerMatches(p, i) {
		var and []string
		for _, h := range hs {
			if h.Type != nil {
				// Traefik's HeaderRegexp finds the expression anywhere in
				// the value; a Route's matches the whole value.
				and = append(and, "HeaderRegexp(`"+string(h.Name)+"`, `^(?:"+h.Value+")$`)")
			} else {
				and = append(and, "Header(`"+string(h.Name)+"`, `"+h.Value+"`)")
			}
		}
		or = append(or, strings.Join(and, " && "))
	}
	return strings.Join(or, " || ")
}

// and joins two rules, either of which may be empty, each in parentheses.
func and(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") && (" + b + ")"
}
