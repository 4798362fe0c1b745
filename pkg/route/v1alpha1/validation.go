package v1alpha1

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits on list sizes, the same as the CRD's.
const (
	maxVersions  = 16
	maxListItems = 16
	maxMatches   = 8
)

// Default fills in the defaults of fields left empty: spec.app (the Route's
// name) and spec.protocol (http).
func (r *Route) Default() {
	if r.Spec.App == "" {
		r.Spec.App = r.Name
	}
	if r.Spec.Protocol == "" {
		r.Spec.Protocol = ProtocolHTTP
	}
}

// PrimaryIndex returns the index in Versions of the primary version: the
// one marked primary, else the first.
func (s *RouteSpec) PrimaryIndex() int {
	for i, v := range s.Versions {
		if v.Primary {
			return i
		}
	}
	return 0
}

// headerToken is an HTTP header or cookie name (RFC 9110 token).
var headerToken = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")

// cookieValue is a cookie value that needs no quoting (RFC 6265).
var cookieValue = regexp.MustCompile(`^[^;,\s"\\]*$`)

// Validate reports every problem of the Route with its field path: the
// rules of the CRD's schema and CEL expressions, whether the provider
// supports the strategy (ProviderStrategies), and, once everything else
// holds, the provider's rules over several versions that CEL does not
// express. It is the one judge of a Route: files, edits, the renderer and
// the controller all ask it. Defaults need not be filled in.
func (r *Route) Validate() field.ErrorList {
	var errs field.ErrorList
	s := &r.Spec
	spec := field.NewPath("spec")

	namePath := field.NewPath("metadata", "name")
	if r.Name == "" {
		errs = append(errs, field.Required(namePath, "the Route's name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
			errs = append(errs, field.Invalid(namePath, r.Name, msg))
		}
		if s.App == "" {
			for _, msg := range validation.IsDNS1035Label(r.Name) {
				errs = append(errs, field.Invalid(namePath, r.Name, "the name is the default of spec.app: "+msg))
			}
		}
	}
	if r.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(r.Namespace) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), r.Namespace, msg))
		}
	}
	if s.App != "" {
		for _, msg := range validation.IsDNS1035Label(s.App) {
			errs = append(errs, field.Invalid(spec.Child("app"), s.App, msg))
		}
	}

	providerOK := slices.Contains(Providers, s.Provider)
	switch {
	case s.Provider == "":
		errs = append(errs, field.Required(spec.Child("provider"), fmt.Sprintf("one of %q", Providers)))
	case !providerOK:
		errs = append(errs, field.NotSupported(spec.Child("provider"), s.Provider, Providers))
	}
	switch {
	case s.Strategy == "":
		errs = append(errs, field.Required(spec.Child("strategy"), fmt.Sprintf("one of %q", Strategies)))
	case !slices.Contains(Strategies, s.Strategy):
		errs = append(errs, field.NotSupported(spec.Child("strategy"), s.Strategy, Strategies))
	}
	if s.Protocol != "" && !slices.Contains(Protocols, s.Protocol) {
		errs = append(errs, field.NotSupported(spec.Child("protocol"), s.Protocol, Protocols))
	}

	errs = append(errs, validateHosts(s.Hosts, spec.Child("hosts"))...)
	if s.Port != nil {
		p := spec.Child("port")
		if s.Provider != ProviderGatewayAPI && s.Provider != ProviderKServeModelMesh {
			errs = append(errs, field.Forbidden(p, "port is used only by providers gateway-api and kserve-modelmesh"))
		} else {
			errs = append(errs, validatePort(*s.Port, p)...)
		}
	}
	if len(s.Gateways) > 0 {
		p := spec.Child("gateways")
		switch s.Provider {
		case ProviderGatewayAPI:
			errs = append(errs, field.Forbidden(p, "gateways are not used by provider gateway-api: use parentRefs"))
		case ProviderTraefik:
			errs = append(errs, field.Forbidden(p, "gateways are not used by provider traefik: use entryPoints"))
		}
		errs = append(errs, validateList(s.Gateways, p, maxListItems)...)
	}
	if len(s.EntryPoints) > 0 {
		p := spec.Child("entryPoints")
		if s.Provider != ProviderTraefik {
			errs = append(errs, field.Forbidden(p, "entryPoints are used only by provider traefik"))
		}
		errs = append(errs, validateList(s.EntryPoints, p, maxListItems)...)
	}
	if len(s.ParentRefs) > 0 {
		p := spec.Child("parentRefs")
		if s.Provider != ProviderGatewayAPI {
			errs = append(errs, field.Forbidden(p, "parentRefs are used only by provider gateway-api"))
		}
		if len(s.ParentRefs) > maxListItems {
			errs = append(errs, field.TooMany(p, len(s.ParentRefs), maxListItems))
		}
		for i, ref := range s.ParentRefs {
			if ref.Name == "" {
				errs = append(errs, field.Required(p.Index(i).Child("name"), "the parent's name"))
			}
			if ref.Port != nil {
				errs = append(errs, validatePort(*ref.Port, p.Index(i).Child("port"))...)
			}
		}
	}

	errs = append(errs, s.validateStrategy()...)
	errs = append(errs, s.validateVersions(spec.Child("versions"))...)
	errs = append(errs, validateSink(s.Sink, spec.Child("sink"))...)
	errs = append(errs, s.validateRollout(spec)...)
	if len(errs) > 0 {
		return errs
	}
	return r.validateProvider()
}

// Limits of a rollout, the same as the CRD's.
const (
	maxSteps         = 20
	maxWebhooks      = 8
	maxNotifications = 8
	maxExperimentLen = 57
)

// webURL is an http(s) URL, as the CRD's pattern for webhooks.
var webURL = regexp.MustCompile(`^https?://[^\s/]+(/[^\s]*)?$`)

// validateRollout checks spec.rollout: the CRD's rules, and that weights
// never decrease and a canary's unweighted steps come first, which CEL
// cannot express over a list.
func (s *RouteSpec) validateRollout(spec *field.Path) field.ErrorList {
	ro := s.Rollout
	if ro == nil {
		return nil
	}
	var errs field.ErrorList
	p := spec.Child("rollout")
	if s.Strategy != "" && s.Strategy != StrategyBlueGreen && s.Strategy != StrategyCanary {
		errs = append(errs, field.Forbidden(p, "rollout is used only by the blue-green and canary strategies"))
	}
	if len(s.Versions) != 2 {
		errs = append(errs, field.Invalid(spec.Child("versions"), fmt.Sprintf("%d versions", len(s.Versions)), "a rollout needs exactly two versions: the primary and the candidate"))
	}
	for i, v := range s.Versions {
		if v.Weight != nil {
			errs = append(errs, field.Forbidden(spec.Child("versions").Index(i).Child("weight"), "with a rollout, its steps set the weights: the versions take none"))
		}
	}
	sp := p.Child("steps")
	switch {
	case len(ro.Steps) == 0:
		errs = append(errs, field.Required(sp, "a rollout needs at least one step"))
	case len(ro.Steps) > maxSteps:
		errs = append(errs, field.TooMany(sp, len(ro.Steps), maxSteps))
	}
	last, lastAt := int32(-1), -1
	for i, st := range ro.Steps {
		ip := sp.Index(i)
		if st.Weight == nil {
			switch {
			case s.Strategy == StrategyBlueGreen:
				errs = append(errs, field.Required(ip.Child("weight"), "a blue-green rollout needs a weight on every step"))
			case lastAt >= 0:
				errs = append(errs, field.Required(ip.Child("weight"), fmt.Sprintf("a canary's steps without a weight come before those with one, and %s has one", sp.Index(lastAt))))
			}
		} else {
			w := *st.Weight
			switch {
			case w < 0 || w > 100:
				errs = append(errs, field.Invalid(ip.Child("weight"), w, "must be between 0 and 100"))
			case w < last:
				errs = append(errs, field.Invalid(ip.Child("weight"), w, fmt.Sprintf("weights never decrease: %s is %d", sp.Index(lastAt).Child("weight"), last)))
			}
			last, lastAt = w, i
		}
		if a := st.Analysis; a != nil {
			ap := ip.Child("analysis")
			switch {
			case (a.Experiment == "") == (a.Spec == nil):
				errs = append(errs, field.Invalid(ap, "", "an analysis needs exactly one of experiment and spec"))
			case a.Experiment != "":
				if len(a.Experiment) > maxExperimentLen {
					errs = append(errs, field.TooLong(ap.Child("experiment"), a.Experiment, maxExperimentLen))
				}
				for _, msg := range validation.IsDNS1123Label(a.Experiment) {
					errs = append(errs, field.Invalid(ap.Child("experiment"), a.Experiment, msg))
				}
			}
			if a.Timeout != nil && a.Timeout.Duration <= 0 {
				errs = append(errs, field.Invalid(ap.Child("timeout"), a.Timeout.Duration.String(), "must be above 0"))
			}
		}
		if ps := st.Pause; ps != nil {
			pp := ip.Child("pause")
			switch {
			case (ps.Duration != nil) == ps.UntilResumed:
				errs = append(errs, field.Invalid(pp, "", "a pause needs exactly one of duration and untilResumed: true"))
			case ps.Duration != nil && ps.Duration.Duration <= 0:
				errs = append(errs, field.Invalid(pp.Child("duration"), ps.Duration.Duration.String(), "must be above 0"))
			}
		}
		wp := ip.Child("webhooks")
		if len(st.Webhooks) > maxWebhooks {
			errs = append(errs, field.TooMany(wp, len(st.Webhooks), maxWebhooks))
		}
		names := map[string]bool{}
		for j, h := range st.Webhooks {
			hp := wp.Index(j)
			switch {
			case h.Name == "":
				errs = append(errs, field.Required(hp.Child("name"), "names the webhook in status and events"))
			case names[h.Name]:
				errs = append(errs, field.Duplicate(hp.Child("name"), h.Name))
			}
			names[h.Name] = true
			if !webURL.MatchString(h.URL) {
				errs = append(errs, field.Invalid(hp.Child("url"), h.URL, "must be an http:// or https:// URL"))
			}
		}
	}
	np := p.Child("notify")
	if len(ro.Notify) > maxNotifications {
		errs = append(errs, field.TooMany(np, len(ro.Notify), maxNotifications))
	}
	for i, n := range ro.Notify {
		ip := np.Index(i)
		switch {
		case (n.URL == "") == (n.SecretRef == nil):
			errs = append(errs, field.Invalid(ip, "", "a notification needs exactly one of url and secretRef"))
		case n.URL != "" && !webURL.MatchString(n.URL):
			errs = append(errs, field.Invalid(ip.Child("url"), n.URL, "must be an http:// or https:// URL"))
		case n.SecretRef != nil:
			for _, msg := range validation.IsDNS1123Subdomain(n.SecretRef.Name) {
				errs = append(errs, field.Invalid(ip.Child("secretRef", "name"), n.SecretRef.Name, msg))
			}
		}
		if n.Format != "" && !slices.Contains(NotificationFormats, n.Format) {
			errs = append(errs, field.NotSupported(ip.Child("format"), n.Format, NotificationFormats))
		}
	}
	return errs
}

// CandidateIndex returns the index in Versions of a rollout's candidate:
// the version that is not the primary; -1 without exactly two versions.
func (s *RouteSpec) CandidateIndex() int {
	if len(s.Versions) != 2 {
		return -1
	}
	return 1 - s.PrimaryIndex()
}

// gitURL is an http(s) URL without credentials, as the CRD's pattern.
// hasPassword reports whether a URL's user info holds a password.
func hasPassword(u *url.Userinfo) bool {
	_, ok := u.Password()
	return ok
}

var gitURL = regexp.MustCompile(`^(https?://[^\s/@]+|ssh://([A-Za-z0-9._-]+@)?[^\s/@]+)(/[^\s]*)?$`)

// gitBranch is a branch name the CRD accepts; Git refuses a few more.
var gitBranch = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9._/]*$`)

// gitPath is a relative path without empty segments.
var gitPath = regexp.MustCompile(`^[-A-Za-z0-9._]+(/[-A-Za-z0-9._]+)*$`)

func validateSink(sink *Sink, p *field.Path) field.ErrorList {
	if sink == nil {
		return nil
	}
	var errs field.ErrorList
	switch sink.Type {
	case "", SinkApply:
		if sink.Git != nil {
			errs = append(errs, field.Forbidden(p.Child("git"), "git settings are used only by sink type git"))
		}
		return errs
	case SinkGit:
	default:
		return append(errs, field.NotSupported(p.Child("type"), sink.Type, SinkTypes))
	}
	g := sink.Git
	gp := p.Child("git")
	if g == nil {
		return append(errs, field.Required(gp, "sink type git needs the repository's url and path"))
	}
	switch {
	case g.URL == "":
		errs = append(errs, field.Required(gp.Child("url"), "the repository's http://, https:// or ssh:// URL"))
	case !gitURL.MatchString(g.URL):
		if u, err := url.Parse(g.URL); err == nil && u.User != nil && (u.Scheme != "ssh" || hasPassword(u.User)) {
			errs = append(errs, field.Invalid(gp.Child("url"), "(redacted)", "must not hold credentials: put them in the Secret of secretRef"))
		} else {
			errs = append(errs, field.Invalid(gp.Child("url"), g.URL, "must be an http://, https:// or ssh://[user@]host[:port]/path URL"))
		}
	}
	if g.Branch != "" && (!gitBranch.MatchString(g.Branch) || strings.Contains(g.Branch, "..") || strings.HasSuffix(g.Branch, "/") || strings.HasSuffix(g.Branch, ".lock")) {
		errs = append(errs, field.Invalid(gp.Child("branch"), g.Branch, "must be a Git branch name"))
	}
	switch {
	case g.Path == "":
		errs = append(errs, field.Required(gp.Child("path"), "the folder of the repository to write, relative to its root"))
	case !gitPath.MatchString(g.Path) || slices.ContainsFunc(strings.Split(g.Path, "/"), func(s string) bool { return s == "." || s == ".." }):
		errs = append(errs, field.Invalid(gp.Child("path"), g.Path, "must be a relative path inside the repository: letters, digits, '-', '_', '.' and '/', no '.' or '..' segments"))
	}
	if g.SecretRef != nil {
		for _, msg := range validation.IsDNS1123Subdomain(g.SecretRef.Name) {
			errs = append(errs, field.Invalid(gp.Child("secretRef", "name"), g.SecretRef.Name, msg))
		}
	}
	if k := g.Kustomization; k != nil {
		for _, msg := range validation.IsDNS1123Subdomain(k.Name) {
			errs = append(errs, field.Invalid(gp.Child("kustomization", "name"), k.Name, msg))
		}
		if k.Namespace != "" {
			for _, msg := range validation.IsDNS1123Label(k.Namespace) {
				errs = append(errs, field.Invalid(gp.Child("kustomization", "namespace"), k.Namespace, msg))
			}
		}
	}
	return errs
}

// SinkType returns the sink type, apply when none is set.
func (s *RouteSpec) SinkType() SinkType {
	if s.Sink == nil || s.Sink.Type == "" {
		return SinkApply
	}
	return s.Sink.Type
}

func (s *RouteSpec) validateVersions(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Versions) == 0 {
		return append(errs, field.Required(path, "a Route needs at least one version"))
	}
	if len(s.Versions) > maxVersions {
		errs = append(errs, field.TooMany(path, len(s.Versions), maxVersions))
	}
	primary := s.PrimaryIndex()
	seen := map[string]bool{}
	anyWeight, weighted := false, 0
	for i := range s.Versions {
		v := &s.Versions[i]
		p := path.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(p.Child("name"), "a DNS label: lowercase letters, digits and '-'"))
		case seen[v.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), v.Name, msg))
			}
		}
		seen[v.Name] = true
		if v.Primary && i != primary {
			errs = append(errs, field.Invalid(p.Child("primary"), true, fmt.Sprintf("at most one version may be primary; %s is", path.Index(primary))))
		}
		errs = append(errs, s.validateBackend(v, p)...)

		isPrimary := i == primary
		if v.Weight != nil {
			wp := p.Child("weight")
			switch {
			case *v.Weight < 0 || *v.Weight > 100:
				errs = append(errs, field.Invalid(wp, *v.Weight, "must be between 0 and 100"))
			case s.Strategy == StrategyCanary:
				errs = append(errs, field.Forbidden(wp, "weight is used only by the blue-green, mirror and abn strategies"))
			case s.Strategy == StrategyMirror && isPrimary:
				errs = append(errs, field.Forbidden(wp, "in a mirror the primary takes all traffic: weight is the percentage copied to each other version"))
			}
			anyWeight = anyWeight || *v.Weight > 0
			weighted++
		}

		mp := p.Child("match")
		switch {
		case len(v.Match) > 0 && s.Strategy != StrategyCanary && s.Strategy != "":
			errs = append(errs, field.Forbidden(mp, "match is used only by the canary strategy"))
		case len(v.Match) > 0 && s.Strategy == StrategyCanary && isPrimary:
			errs = append(errs, field.Forbidden(mp, "the primary of a canary takes the requests no match takes: move the match to another version or mark another version primary"))
		case len(v.Match) == 0 && s.Strategy == StrategyCanary && !isPrimary:
			errs = append(errs, field.Required(mp, "a canary needs a match on every version but the primary"))
		}
		if len(v.Match) > maxMatches {
			errs = append(errs, field.TooMany(mp, len(v.Match), maxMatches))
		}
		for j, m := range v.Match {
			errs = append(errs, s.validateMatch(m, mp.Index(j))...)
		}

		rp := p.Child("readiness")
		if len(v.Readiness) > maxListItems {
			errs = append(errs, field.TooMany(rp, len(v.Readiness), maxListItems))
		}
		for j, o := range v.Readiness {
			op := rp.Index(j)
			for _, f := range []struct{ name, value string }{{"apiVersion", o.APIVersion}, {"kind", o.Kind}, {"name", o.Name}} {
				if f.value == "" {
					errs = append(errs, field.Required(op.Child(f.name), "the object whose readiness gates the version"))
				}
			}
		}
	}
	if s.Strategy == StrategyBlueGreen && !anyWeight && s.Rollout == nil {
		errs = append(errs, field.Invalid(path, fmt.Sprintf("%d versions", len(s.Versions)), "blue-green needs a version with a weight above 0"))
	}
	if s.Strategy == StrategyABN && weighted > 0 {
		switch {
		case weighted < len(s.Versions):
			errs = append(errs, field.Invalid(path, fmt.Sprintf("%d of %d versions with a weight", weighted, len(s.Versions)), "abn weights are shares of users: give every version a weight, or none for equal shares"))
		case !anyWeight:
			errs = append(errs, field.Invalid(path, fmt.Sprintf("%d versions", len(s.Versions)), "abn needs a version with a weight above 0"))
		}
	}
	return errs
}

func (s *RouteSpec) validateBackend(v *Version, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	kserve := s.Provider == ProviderKServe || s.Provider == ProviderKServeModelMesh
	switch {
	case v.Service != nil && v.InferenceService != nil:
		errs = append(errs, field.Forbidden(p, "a version needs exactly one backend: service or inferenceService"))
	case v.Service == nil && v.InferenceService == nil:
		if kserve {
			errs = append(errs, field.Required(p.Child("inferenceService"), fmt.Sprintf("provider %s routes to a KServe InferenceService", s.Provider)))
		} else {
			errs = append(errs, field.Required(p.Child("service"), "the Service that serves the version"))
		}
	case v.Service != nil && kserve:
		errs = append(errs, field.Forbidden(p.Child("service"), fmt.Sprintf("provider %s routes to an inferenceService, not a service", s.Provider)))
	case v.InferenceService != nil && !kserve && s.Provider != "":
		errs = append(errs, field.Forbidden(p.Child("inferenceService"), fmt.Sprintf("provider %s routes to a service; use provider kserve or kserve-modelmesh for InferenceServices", s.Provider)))
	}
	if svc := v.Service; svc != nil {
		sp := p.Child("service")
		if svc.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), "the Service's name"))
		} else {
			for _, msg := range validation.IsDNS1035Label(svc.Name) {
				errs = append(errs, field.Invalid(sp.Child("name"), svc.Name, msg))
			}
		}
		if svc.Port == 0 {
			errs = append(errs, field.Required(sp.Child("port"), "the Service port that serves the version"))
		} else {
			errs = append(errs, validatePort(svc.Port, sp.Child("port"))...)
		}
		if len(svc.Labels) > 0 {
			if s.Provider != ProviderIstio && s.Provider != "" {
				errs = append(errs, field.Forbidden(sp.Child("labels"), "service labels (DestinationRule subsets) are used only by provider istio"))
			}
			errs = append(errs, metav1validation.ValidateLabels(svc.Labels, sp.Child("labels"))...)
		}
	}
	if isvc := v.InferenceService; isvc != nil {
		ip := p.Child("inferenceService", "name")
		if isvc.Name == "" {
			errs = append(errs, field.Required(ip, "the InferenceService's name"))
		} else {
			for _, msg := range validation.IsDNS1035Label(isvc.Name) {
				errs = append(errs, field.Invalid(ip, isvc.Name, msg))
			}
		}
	}
	return errs
}

func (s *RouteSpec) validateMatch(m Match, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(m.Headers) == 0 && m.Cookie == nil {
		errs = append(errs, field.Required(p, "a match needs headers or a cookie"))
	}
	hp := p.Child("headers")
	if len(m.Headers) > maxListItems {
		errs = append(errs, field.TooMany(hp, len(m.Headers), maxListItems))
	}
	names := map[string]bool{}
	for k, h := range m.Headers {
		np := hp.Index(k).Child("name")
		switch {
		case h.Name == "":
			errs = append(errs, field.Required(np, "the header's name"))
		case !headerToken.MatchString(h.Name):
			errs = append(errs, field.Invalid(np, h.Name, "must be an HTTP header name"))
		case names[strings.ToLower(h.Name)]:
			errs = append(errs, field.Duplicate(np, h.Name))
		case m.Cookie != nil && strings.ToLower(h.Name) == "cookie":
			errs = append(errs, field.Forbidden(np, "a match with a cookie cannot also match the cookie header"))
		}
		names[strings.ToLower(h.Name)] = true
		switch h.Type {
		case "", HeaderMatchExact:
		case HeaderMatchRegularExpression:
			if _, err := regexp.Compile(h.Value); err != nil {
				errs = append(errs, field.Invalid(hp.Index(k).Child("value"), h.Value, "not an RE2 regular expression: "+err.Error()))
			}
		default:
			errs = append(errs, field.NotSupported(hp.Index(k).Child("type"), h.Type, HeaderMatchTypes))
		}
	}
	if c := m.Cookie; c != nil {
		cp := p.Child("cookie")
		if s.Protocol == ProtocolGRPC {
			errs = append(errs, field.Forbidden(cp, "gRPC has no cookies: match a header"))
		}
		if !headerToken.MatchString(c.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), c.Name, "must be a cookie name"))
		}
		if !cookieValue.MatchString(c.Value) {
			errs = append(errs, field.Invalid(cp.Child("value"), c.Value, "must be a cookie value: no ';', ',', '\"', '\\' or white space"))
		}
	}
	return errs
}

func validateHosts(hosts []string, p *field.Path) field.ErrorList {
	errs := validateList(hosts, p, maxListItems)
	for i, h := range hosts {
		if h == "" {
			continue
		}
		msgs := validation.IsDNS1123Subdomain(h)
		if len(msgs) > 0 && len(validation.IsWildcardDNS1123Subdomain(h)) == 0 {
			msgs = nil
		}
		for _, msg := range msgs {
			errs = append(errs, field.Invalid(p.Index(i), h, msg))
		}
	}
	return errs
}

// validateList checks that a list of strings has no empty or repeated
// items and at most max of them.
func validateList(items []string, p *field.Path, max int) field.ErrorList {
	var errs field.ErrorList
	if len(items) > max {
		errs = append(errs, field.TooMany(p, len(items), max))
	}
	seen := map[string]bool{}
	for i, s := range items {
		switch {
		case s == "":
			errs = append(errs, field.Required(p.Index(i), "must not be empty"))
		case seen[s]:
			errs = append(errs, field.Duplicate(p.Index(i), s))
		}
		seen[s] = true
	}
	return errs
}

func validatePort(port int32, p *field.Path) field.ErrorList {
	if port < 1 || port > 65535 {
		return field.ErrorList{field.Invalid(p, port, "must be a port number between 1 and 65535")}
	}
	return nil
}
