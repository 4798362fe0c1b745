package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	gwapi "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// gatewayAPI renders a gateway.networking.k8s.io/v1 HTTPRoute, or a
// GRPCRoute for gRPC apps, whose backends are the versions' Services.
type gatewayAPI struct{}

func (gatewayAPI) Render(p *Plan) ([]*unstructured.Unstructured, error) {
	if p.Route.Spec.Protocol == v1alpha1.ProtocolGRPC {
		return manifest.ToUnstructured(grpcRoute(p))
	}
	return manifest.ToUnstructured(httpRoute(p))
}

// commonSpec holds the parents: the Route's parentRefs, or the app's Service
// for in-mesh (GAMMA) routing.
func commonSpec(p *Plan) gwapi.CommonRouteSpec {
	s := &p.Route.Spec
	var c gwapi.CommonRouteSpec
	for _, r := range s.ParentRefs {
		c.ParentRefs = append(c.ParentRefs, gwapi.ParentReference{
			Group:       (*gwapi.Group)(r.Group),
			Kind:        (*gwapi.Kind)(r.Kind),
			Namespace:   (*gwapi.Namespace)(r.Namespace),
			Name:        gwapi.ObjectName(r.Name),
			SectionName: (*gwapi.SectionName)(r.SectionName),
			Port:        r.Port,
		})
	}
	if len(c.ParentRefs) == 0 {
		c.ParentRefs = []gwapi.ParentReference{{
			Group: ptr.To(gwapi.Group("")),
			Kind:  ptr.To(gwapi.Kind("Service")),
			Name:  gwapi.ObjectName(s.App),
			Port:  s.Port,
		}}
	}
	return c
}

func hostnames(p *Plan) []gwapi.Hostname {
	var h []gwapi.Hostname
	for _, n := range p.Route.Spec.Hosts {
		h = append(h, gwapi.Hostname(n))
	}
	return h
}

// backendObject is the Service of the i-th version.
func backendObject(p *Plan, i int) gwapi.BackendObjectReference {
	svc := p.version(i).Service
	return gwapi.BackendObjectReference{Name: gwapi.ObjectName(svc.Name), Port: ptr.To(svc.Port)}
}

// versionHeader sets the response header naming the version.
func versionHeader(version string) *gwapi.HTTPHeaderFilter {
	return &gwapi.HTTPHeaderFilter{Set: []gwapi.HTTPHeader{{Name: v1alpha1.VersionHeader, Value: version}}}
}

// mirrorFilters copy requests to the versions that get a mirror.
func mirrorFilters(p *Plan) []*gwapi.HTTPRequestMirrorFilter {
	var out []*gwapi.HTTPRequestMirrorFilter
	for i, t := range p.Traffic {
		if t.MirrorPercent > 0 {
			out = append(out, &gwapi.HTTPRequestMirrorFilter{BackendRef: backendObject(p, i), Percent: ptr.To(t.MirrorPercent)})
		}
	}
	return out
}

// defaultBackends are the indexes of the versions of the default rule, and
// their weights: every version in blue-green, else the primary alone.
func defaultBackends(p *Plan) (indexes []int, weights []*int32) {
	if !p.Weighted {
		return []int{p.Primary}, []*int32{nil}
	}
	for i, t := range p.Traffic {
		indexes, weights = append(indexes, i), append(weights, ptr.To(t.Weight))
	}
	return indexes, weights
}

// headerMatches are the headers a request needs to reach a matched version:
// its name in x-iter8-version (abn), or one list per canary match.
func headerMatches(p *Plan, i int) [][]gwapi.HTTPHeaderMatch {
	if p.Route.Spec.Strategy == v1alpha1.StrategyABN {
		return [][]gwapi.HTTPHeaderMatch{{{Name: v1alpha1.VersionHeader, Value: p.Traffic[i].Name}}}
	}
	var out [][]gwapi.HTTPHeaderMatch
	for _, m := range p.version(i).Match {
		var hs []gwapi.HTTPHeaderMatch
		for _, h := range m.Headers {
			hm := gwapi.HTTPHeaderMatch{Name: gwapi.HTTPHeaderName(h.Name), Value: h.Value}
			if h.Type == v1alpha1.HeaderMatchRegularExpression {
				hm.Type = ptr.To(gwapi.HeaderMatchRegularExpression)
			}
			hs = append(hs, hm)
		}
		if m.Cookie != nil {
			hs = append(hs, gwapi.HTTPHeaderMatch{Type: ptr.To(gwapi.HeaderMatchRegularExpression), Name: "Cookie", Value: cookieRegex(m.Cookie)})
		}
		out = append(out, hs)
	}
	return out
}

func httpRoute(p *Plan) *gwapi.HTTPRoute {
	hr := &gwapi.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute"},
		ObjectMeta: objectMeta(p, p.Route.Spec.App),
	}
	hr.Spec.CommonRouteSpec = commonSpec(p)
	hr.Spec.Hostnames = hostnames(p)
	backend := func(i int, weight *int32) gwapi.HTTPBackendRef {
		return gwapi.HTTPBackendRef{
			BackendRef: gwapi.BackendRef{BackendObjectReference: backendObject(p, i), Weight: weight},
			Filters:    []gwapi.HTTPRouteFilter{{Type: gwapi.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: versionHeader(p.Traffic[i].Name)}},
		}
	}
	for i, t := range p.Traffic {
		if !t.Matched {
			continue
		}
		rule := gwapi.HTTPRouteRule{Name: ptr.To(gwapi.SectionName("to-" + t.Name)), BackendRefs: []gwapi.HTTPBackendRef{backend(i, nil)}}
		for _, hs := range headerMatches(p, i) {
			rule.Matches = append(rule.Matches, gwapi.HTTPRouteMatch{Headers: hs})
		}
		hr.Spec.Rules = append(hr.Spec.Rules, rule)
	}
	def := gwapi.HTTPRouteRule{Name: ptr.To(gwapi.SectionName("default"))}
	indexes, weights := defaultBackends(p)
	for k, i := range indexes {
		def.BackendRefs = append(def.BackendRefs, backend(i, weights[k]))
	}
	for _, m := range mirrorFilters(p) {
		def.Filters = append(def.Filters, gwapi.HTTPRouteFilter{Type: gwapi.HTTPRouteFilterRequestMirror, RequestMirror: m})
	}
	hr.Spec.Rules = append(hr.Spec.Rules, def)
	return hr
}

func grpcRoute(p *Plan) *gwapi.GRPCRoute {
	gr := &gwapi.GRPCRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "GRPCRoute"},
		ObjectMeta: objectMeta(p, p.Route.Spec.App),
	}
	gr.Spec.CommonRouteSpec = commonSpec(p)
	gr.Spec.Hostnames = hostnames(p)
	backend := func(i int, weight *int32) gwapi.GRPCBackendRef {
		return gwapi.GRPCBackendRef{
			BackendRef: gwapi.BackendRef{BackendObjectReference: backendObject(p, i), Weight: weight},
			Filters:    []gwapi.GRPCRouteFilter{{Type: gwapi.GRPCRouteFilterResponseHeaderModifier, ResponseHeaderModifier: versionHeader(p.Traffic[i].Name)}},
		}
	}
	for i, t := range p.Traffic {
		if !t.Matched {
			continue
		}
		rule := gwapi.GRPCRouteRule{Name: ptr.To(gwapi.SectionName("to-" + t.Name)), BackendRefs: []gwapi.GRPCBackendRef{backend(i, nil)}}
		for _, hs := range headerMatches(p, i) {
			var gm gwapi.GRPCRouteMatch
			for _, h := range hs {
				gm.Headers = append(gm.Headers, gwapi.GRPCHeaderMatch{Type: (*gwapi.GRPCHeaderMatchType)(h.Type), Name: gwapi.GRPCHeaderName(h.Name), Value: h.Value})
			}
			rule.Matches = append(rule.Matches, gm)
		}
		gr.Spec.Rules = append(gr.Spec.Rules, rule)
	}
	def := gwapi.GRPCRouteRule{Name: ptr.To(gwapi.SectionName("default"))}
	indexes, weights := defaultBackends(p)
	for k, i := range indexes {
		def.BackendRefs = append(def.BackendRefs, backend(i, weights[k]))
	}
	for _, m := range mirrorFilters(p) {
		def.Filters = append(def.Filters, gwapi.GRPCRouteFilter{Type: gwapi.GRPCRouteFilterRequestMirror, RequestMirror: m})
	}
	gr.Spec.Rules = append(gr.Spec.Rules, def)
	return gr
}
