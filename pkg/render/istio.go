package render

import (
	"strings"

	istionet "istio.io/api/networking/v1"
	istioclient "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// istio renders a networking.istio.io/v1 VirtualService that routes to each
// version's Service, and a DestinationRule with a subset per version for
// every Service that versions share.
type istio struct{}

func (istio) Render(p *Plan) ([]*unstructured.Unstructured, error) {
	s := &p.Route.Spec
	count := map[string]int{}
	for _, v := range s.Versions {
		count[v.Service.Name]++
	}
	targets := make([]istioTarget, len(s.Versions))
	var rules []any
	ruled := map[string]bool{}
	for i := range s.Versions {
		svc := p.version(i).Service
		t := istioTarget{host: serviceHost(p, svc.Name), port: uint32(svc.Port)}
		if count[svc.Name] > 1 {
			t.subset = p.version(i).Name
			if !ruled[svc.Name] {
				ruled[svc.Name] = true
				rules = append(rules, destinationRule(p, svc.Name))
			}
		}
		targets[i] = t
	}
	vs := virtualService(p, hostsOr(p, serviceHost(p, s.App)), s.Gateways, targets)
	return manifest.ToUnstructured(append([]any{vs}, rules...)...)
}

// destinationRule declares a subset per version of a shared Service.
func destinationRule(p *Plan, service string) *istioclient.DestinationRule {
	dr := &istioclient.DestinationRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"},
		ObjectMeta: objectMeta(p, service),
	}
	dr.Spec.Host = serviceHost(p, service)
	for _, v := range p.Route.Spec.Versions {
		if v.Service.Name == service {
			dr.Spec.Subsets = append(dr.Spec.Subsets, &istionet.Subset{Name: v.Name, Labels: v.SubsetLabels()})
		}
	}
	return dr
}

// hostsOr returns the Route's hosts, or defaults when it has none.
func hostsOr(p *Plan, defaults ...string) []string {
	if len(p.Route.Spec.Hosts) > 0 {
		return p.Route.Spec.Hosts
	}
	return defaults
}

// istioTarget is where Istio sends a version's requests.
type istioTarget struct {
	// host, port and subset make the destination.
	host   string
	port   uint32
	subset string
	// setRequest are request headers set on the way, e.g. a Host rewrite.
	setRequest map[string]string
}

func (t istioTarget) destination() *istionet.Destination {
	d := &istionet.Destination{Host: t.host, Subset: t.subset}
	if t.port != 0 {
		d.Port = &istionet.PortSelector{Number: t.port}
	}
	return d
}

// route sends requests to the target with the given weight (0: the only
// destination of its rule, or none of the traffic), and names the version
// in the response.
func (t istioTarget) route(version string, weight int32) *istionet.HTTPRouteDestination {
	h := &istionet.Headers{Response: &istionet.Headers_HeaderOperations{Set: map[string]string{v1alpha1.VersionHeader: version}}}
	if len(t.setRequest) > 0 {
		h.Request = &istionet.Headers_HeaderOperations{Set: t.setRequest}
	}
	return &istionet.HTTPRouteDestination{Destination: t.destination(), Weight: weight, Headers: h}
}

// virtualService renders the plan as a VirtualService named after the app,
// with one target per version. Rules come in order: one per matched version
// (named to-<version>), then the default rule, which takes the rest.
func virtualService(p *Plan, hosts, gateways []string, targets []istioTarget) *istioclient.VirtualService {
	s := &p.Route.Spec
	vs := &istioclient.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: objectMeta(p, s.App),
	}
	vs.Spec.Hosts = hosts
	vs.Spec.Gateways = gateways
	for i, t := range p.Traffic {
		if !t.Matched {
			continue
		}
		var match []*istionet.HTTPMatchRequest
		if s.Strategy == v1alpha1.StrategyABN {
			match = append(match, &istionet.HTTPMatchRequest{Headers: map[string]*istionet.StringMatch{v1alpha1.VersionHeader: exact(t.Name)}})
		} else {
			for _, m := range p.version(i).Match {
				match = append(match, istioMatch(m))
			}
		}
		vs.Spec.Http = append(vs.Spec.Http, &istionet.HTTPRoute{
			Name:  "to-" + t.Name,
			Match: match,
			Route: []*istionet.HTTPRouteDestination{targets[i].route(t.Name, 0)},
		})
	}
	def := &istionet.HTTPRoute{Name: "default"}
	for i, t := range p.Traffic {
		switch {
		case p.Weighted:
			def.Route = append(def.Route, targets[i].route(t.Name, t.Weight))
		case i == p.Primary:
			def.Route = append(def.Route, targets[i].route(t.Name, 0))
		}
		if t.MirrorPercent > 0 {
			def.Mirrors = append(def.Mirrors, &istionet.HTTPMirrorPolicy{
				Destination: targets[i].destination(),
				Percentage:  &istionet.Percent{Value: float64(t.MirrorPercent)},
			})
		}
	}
	vs.Spec.Http = append(vs.Spec.Http, def)
	return vs
}

// istioMatch converts a match; Istio wants header names in lower case.
func istioMatch(m v1alpha1.Match) *istionet.HTTPMatchRequest {
	headers := map[string]*istionet.StringMatch{}
	for _, h := range m.Headers {
		sm := exact(h.Value)
		if h.Type == v1alpha1.HeaderMatchRegularExpression {
			sm = &istionet.StringMatch{MatchType: &istionet.StringMatch_Regex{Regex: h.Value}}
		}
		headers[strings.ToLower(h.Name)] = sm
	}
	if m.Cookie != nil {
		headers["cookie"] = &istionet.StringMatch{MatchType: &istionet.StringMatch_Regex{Regex: cookieRegex(m.Cookie)}}
	}
	return &istionet.HTTPMatchRequest{Headers: headers}
}

func exact(v string) *istionet.StringMatch {
	return &istionet.StringMatch{MatchType: &istionet.StringMatch_Exact{Exact: v}}
}
