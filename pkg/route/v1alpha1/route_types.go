package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider names the mesh or serving layer whose routing resources a Route
// renders.
// +kubebuilder:validation:Enum=istio;gateway-api;traefik;kserve;kserve-modelmesh
type Provider string

// The providers.
const (
	// ProviderIstio renders an Istio VirtualService (networking.istio.io/v1)
	// to each version's Service, with DestinationRule subsets for versions
	// that share a Service.
	ProviderIstio Provider = "istio"
	// ProviderGatewayAPI renders a Gateway API HTTPRoute, or a GRPCRoute
	// when the protocol is grpc (gateway.networking.k8s.io/v1).
	ProviderGatewayAPI Provider = "gateway-api"
	// ProviderTraefik renders Traefik's IngressRoute, TraefikService and
	// Middlewares (traefik.io/v1alpha1), for Traefik's kubernetescrd
	// provider: unlike its Gateway API provider, it mirrors.
	ProviderTraefik Provider = "traefik"
	// ProviderKServe renders an Istio VirtualService to each version's KServe
	// InferenceService predictor (serverless mode), through the Knative
	// local gateway.
	ProviderKServe Provider = "kserve"
	// ProviderKServeModelMesh renders an Istio VirtualService and
	// ServiceEntry that route to KServe ModelMesh predictors by setting the
	// mm-vmodel-id header.
	ProviderKServeModelMesh Provider = "kserve-modelmesh"
)

// Providers lists every provider, in documentation order.
var Providers = []Provider{ProviderIstio, ProviderGatewayAPI, ProviderTraefik, ProviderKServe, ProviderKServeModelMesh}

// Strategy says how traffic is shared between versions.
// +kubebuilder:validation:Enum=blue-green;canary;mirror;abn
type Strategy string

// The strategies.
const (
	// StrategyBlueGreen splits traffic between versions by weight.
	StrategyBlueGreen Strategy = "blue-green"
	// StrategyCanary sends requests that match a version's header or
	// cookie match to that version, and the rest to the primary.
	StrategyCanary Strategy = "canary"
	// StrategyMirror sends all traffic to the primary and copies a
	// percentage of it (each version's weight) to the other versions; their
	// responses are discarded.
	StrategyMirror Strategy = "mirror"
	// StrategyABN routes a request to the version named by its
	// x-iter8-version header, which the app sets from the A/B/n service's
	// assignment; requests without it, or naming a version that is not
	// ready, go to the primary.
	StrategyABN Strategy = "abn"
)

// Strategies lists every strategy, in documentation order.
var Strategies = []Strategy{StrategyBlueGreen, StrategyCanary, StrategyMirror, StrategyABN}

// Protocol is the application protocol of the app.
// +kubebuilder:validation:Enum=http;grpc
type Protocol string

// The protocols.
const (
	// ProtocolHTTP is HTTP/1.1 or HTTP/2; the default.
	ProtocolHTTP Protocol = "http"
	// ProtocolGRPC is gRPC: the Gateway API renders a GRPCRoute, and
	// kserve-modelmesh routes to the gRPC port.
	ProtocolGRPC Protocol = "grpc"
)

// Protocols lists every protocol.
var Protocols = []Protocol{ProtocolHTTP, ProtocolGRPC}

// HeaderMatchType says how a header's value is compared.
// +kubebuilder:validation:Enum=Exact;RegularExpression
type HeaderMatchType string

// The header match types; the names are those of the Gateway API.
const (
	// HeaderMatchExact matches a header whose value equals the given value;
	// the default.
	HeaderMatchExact HeaderMatchType = "Exact"
	// HeaderMatchRegularExpression matches a header whose whole value
	// matches the given RE2 regular expression.
	HeaderMatchRegularExpression HeaderMatchType = "RegularExpression"
)

// HeaderMatchTypes lists every header match type.
var HeaderMatchTypes = []HeaderMatchType{HeaderMatchExact, HeaderMatchRegularExpression}

// VersionHeader is the header that names a version: every rendered route
// sets it on responses to the version that served the request, and the abn
// strategy routes requests by it.
const VersionHeader = "x-iter8-version"

// Route declares the versions of an app (or ML inference service) and how
// traffic reaches them; iter8 renders the routing resources of a service
// mesh from it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=iter8
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Route struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the versions and how traffic reaches them.
	Spec RouteSpec `json:"spec"`

	// Status is what the reconciler last applied.
	// +optional
	Status RouteStatus `json:"status,omitempty"`
}

// RouteSpec declares the versions of an app and how traffic reaches them.
//
// The CEL rules below catch mistakes when a Route is created; Validate
// checks the same and more, for files. Rules about the primary (the version
// marked primary, else the first) have a branch for each case.
//
// +kubebuilder:validation:XValidation:rule="self.strategy != 'blue-green' || has(self.rollout) || self.versions.exists(v, has(v.weight) && v.weight > 0)",message="blue-green needs a version with a weight above 0",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || self.strategy in ['blue-green', 'canary']",message="rollout is used only by the blue-green and canary strategies",fieldPath=".rollout"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || size(self.versions) == 2",message="a rollout needs exactly two versions: the primary and the candidate",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || self.versions.all(v, !has(v.weight))",message="with a rollout, its steps set the weights: the versions take none",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || self.strategy != 'blue-green' || self.rollout.steps.all(s, has(s.weight))",message="a blue-green rollout needs a weight on every step",fieldPath=".rollout.steps"
// +kubebuilder:validation:XValidation:rule="self.strategy in ['blue-green', 'mirror', 'abn'] || self.versions.all(v, !has(v.weight))",message="weight is used only by the blue-green, mirror and abn strategies",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'abn' || self.versions.all(v, has(v.weight)) || self.versions.all(v, !has(v.weight))",message="abn weights are shares of users: give every version a weight, or none for equal shares",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'abn' || !self.versions.exists(v, has(v.weight)) || self.versions.exists(v, has(v.weight) && v.weight > 0)",message="abn needs a version with a weight above 0",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.strategy == 'canary' || self.versions.all(v, !has(v.match))",message="match is used only by the canary strategy",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'canary' || (self.versions.exists(v, has(v.primary) && v.primary) ? self.versions.all(v, (has(v.primary) && v.primary) != has(v.match)) : self.versions.all(v, (v.name == self.versions[0].name) != has(v.match)))",message="a canary needs a match on every version but the primary, and none on the primary",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'mirror' || (self.versions.exists(v, has(v.primary) && v.primary) ? self.versions.all(v, !(has(v.primary) && v.primary) || !has(v.weight)) : self.versions.all(v, v.name != self.versions[0].name || !has(v.weight)))",message="in a mirror the primary takes all traffic: weight is the percentage copied to each other version",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="self.provider in ['kserve', 'kserve-modelmesh'] ? !self.versions.exists(v, has(v.service)) : !self.versions.exists(v, has(v.inferenceService))",message="providers istio, gateway-api and traefik route to a version's service, kserve and kserve-modelmesh to its inferenceService",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="!(self.strategy == 'mirror' && self.provider in ['kserve', 'kserve-modelmesh'])",message="strategy mirror is not supported by providers kserve and kserve-modelmesh",fieldPath=".strategy"
// +kubebuilder:validation:XValidation:rule="self.provider == 'gateway-api' || !has(self.parentRefs)",message="parentRefs are used only by provider gateway-api",fieldPath=".parentRefs"
// +kubebuilder:validation:XValidation:rule="self.provider != 'gateway-api' || !has(self.gateways)",message="gateways are not used by provider gateway-api: use parentRefs",fieldPath=".gateways"
// +kubebuilder:validation:XValidation:rule="self.provider != 'traefik' || !has(self.gateways)",message="gateways are not used by provider traefik: use entryPoints",fieldPath=".gateways"
// +kubebuilder:validation:XValidation:rule="self.provider == 'traefik' || !has(self.entryPoints)",message="entryPoints are used only by provider traefik",fieldPath=".entryPoints"
// +kubebuilder:validation:XValidation:rule="self.provider in ['gateway-api', 'kserve-modelmesh'] || !has(self.port)",message="port is used only by providers gateway-api and kserve-modelmesh",fieldPath=".port"
// +kubebuilder:validation:XValidation:rule="self.provider == 'istio' || self.versions.all(v, !has(v.service) || !has(v.service.labels))",message="service labels (DestinationRule subsets) are used only by provider istio",fieldPath=".versions"
// +kubebuilder:validation:XValidation:rule="!has(self.protocol) || self.protocol != 'grpc' || self.versions.all(v, !has(v.match) || v.match.all(m, !has(m.cookie)))",message="gRPC has no cookies: match a header",fieldPath=".versions"
type RouteSpec struct {
	// App names the app; the rendered objects are named after it.
	// Default: metadata.name.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	App string `json:"app,omitempty"`

	// Hosts are the host names clients use to reach the app. Default for
	// istio and kserve: <app>.<namespace>.svc.cluster.local; for
	// kserve-modelmesh: <app>.<namespace>, <app>.<namespace>.svc and
	// <app>.<namespace>.svc.cluster.local; for gateway-api: none (the
	// HTTPRoute's hostnames are left to its parents); for traefik: none
	// (any host).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	Hosts []string `json:"hosts,omitempty"`

	// Port is the port clients use. gateway-api: the port of the default
	// parent, the app's Service (none: every port). kserve-modelmesh: the
	// serving port (default 8033 for grpc, 8008 for http). Not used by
	// other providers.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// Protocol is the app's protocol: http (default) or grpc.
	// +optional
	// +kubebuilder:default=http
	Protocol Protocol `json:"protocol,omitempty"`

	// Provider is the mesh or serving layer whose resources are rendered:
	// istio, gateway-api, traefik, kserve or kserve-modelmesh.
	Provider Provider `json:"provider"`

	// Strategy says how traffic is shared: blue-green, canary, mirror or
	// abn.
	Strategy Strategy `json:"strategy"`

	// Gateways are the Istio gateways (namespace/name) the VirtualService
	// applies to; "mesh" means the sidecars. Default: the sidecars only; for
	// kserve: knative-serving/knative-local-gateway and mesh. Not used by
	// gateway-api or traefik.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	Gateways []string `json:"gateways,omitempty"`

	// ParentRefs are the Gateway API parents (Gateways, or Services for
	// in-mesh routing) the route attaches to. Default: the app's Service,
	// <app>, for in-mesh (GAMMA) routing. Used only by gateway-api.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ParentRefs []ParentReference `json:"parentRefs,omitempty"`

	// EntryPoints are the Traefik entry points the IngressRoute listens
	// on. Default: Traefik's default entry points. Used only by traefik.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	EntryPoints []string `json:"entryPoints,omitempty"`

	// Versions are the versions of the app. The primary (the one marked
	// primary, else the first) takes the traffic no other rule takes, and
	// all traffic when no version is ready.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.filter(v, has(v.primary) && v.primary).size() <= 1",message="at most one version may be primary"
	Versions []Version `json:"versions"`

	// Sink says where the reconciler writes the rendered routing: apply
	// (the default) applies it to the cluster; git commits it to the Git
	// repository that Flux applies.
	// +optional
	Sink *Sink `json:"sink,omitempty"`

	// Rollout moves traffic to the candidate (the version that is not the
	// primary) in steps, each gated by an experiment, a pause and
	// webhooks, and promotes it after the last step; a failed gate rolls
	// it back. Every step is written through the sink (a commit, for a Git
	// sink). Used by the blue-green and canary strategies, with exactly two
	// versions and no weights on them.
	// +optional
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout is a progressive rollout of the candidate.
type Rollout struct {
	// Steps are applied in order; the candidate is promoted once the last
	// one passes.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Steps []RolloutStep `json:"steps"`

	// Notify are webhooks told of every change of step or phase.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Notify []Notification `json:"notify,omitempty"`
}

// RolloutStep is one step of a rollout: the candidate's traffic, then its
// gates, in order: the analysis, the pause, the webhooks.
type RolloutStep struct {
	// Weight is the candidate's percentage of the requests no match takes;
	// the primary takes the rest. Required by blue-green. A canary's steps
	// without a weight send the candidate only the requests its match
	// takes; from its first step with a weight on, the candidate takes its
	// matches and that share of the rest. Weights never decrease from step
	// to step.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// Analysis is an experiment run, as a Job owned by the Route, once the
	// step's routing is live; the step passes when every version of it
	// satisfies every SLO.
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`

	// Pause holds the step once its analysis passed: for a duration, or
	// until `kubectl iter8-route resume`.
	// +optional
	Pause *Pause `json:"pause,omitempty"`

	// Webhooks are asked, in order, once the analysis and pause are
	// passed, whether the step may advance: a 2xx answer lets it; 409
	// Conflict aborts the rollout; any other answer, or none, holds the
	// step and the webhook is asked again.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// Analysis is the experiment that gates a step.
//
// +kubebuilder:validation:XValidation:rule="has(self.experiment) != has(self.spec)",message="an analysis needs exactly one of experiment and spec"
type Analysis struct {
	// Experiment names an experiment in the Route's namespace, made by
	// `kubectl iter8-run launch`: its spec is run afresh at the step.
	// +optional
	// +kubebuilder:validation:MaxLength=57
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Experiment string `json:"experiment,omitempty"`

	// Spec is an experiment's spec inline: its versions and tasks, as
	// under spec: in an experiment file.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Spec *apiextensionsv1.JSON `json:"spec,omitempty"`

	// Timeout bounds the experiment, from when it is created; the rollout
	// fails (and rolls back) when it has no verdict by then. Default: 10m.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// Pause holds a step.
//
// +kubebuilder:validation:XValidation:rule="has(self.duration) != (has(self.untilResumed) && self.untilResumed)",message="a pause needs exactly one of duration and untilResumed: true"
type Pause struct {
	// Duration is how long the step is held.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// UntilResumed holds the step until `kubectl iter8-route resume`.
	// +optional
	UntilResumed bool `json:"untilResumed,omitempty"`
}

// Webhook is an HTTP endpoint asked whether a step may advance. It is sent
// a POST of a JSON RolloutEvent.
type Webhook struct {
	// Name identifies the webhook in status and events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// URL is the endpoint's http:// or https:// URL.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/[^\s]*)?$`
	URL string `json:"url"`
}

// NotificationFormat is the shape of a notification's payload.
// +kubebuilder:validation:Enum=slack;json
type NotificationFormat string

// The notification formats.
const (
	// NotificationSlack posts {"text": "..."}, what Slack incoming webhooks
	// take; the default.
	NotificationSlack NotificationFormat = "slack"
	// NotificationJSON posts the RolloutEvent as JSON.
	NotificationJSON NotificationFormat = "json"
)

// NotificationFormats lists every notification format.
var NotificationFormats = []NotificationFormat{NotificationSlack, NotificationJSON}

// Notification is a webhook told of a rollout's changes.
//
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.secretRef)",message="a notification needs exactly one of url and secretRef"
type Notification struct {
	// URL is the webhook's http:// or https:// URL.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/[^\s]*)?$`
	URL string `json:"url,omitempty"`
	// SecretRef names a Secret in the Route's namespace whose key url holds
	// the webhook's URL (Slack's are secrets), and whose optional key token
	// is sent as a bearer token.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
	// Format is slack (default) or json.
	// +optional
	Format NotificationFormat `json:"format,omitempty"`
}

// RolloutEvent is what webhooks and notifications of a rollout are sent.
type RolloutEvent struct {
	// Route is namespace/name of the Route.
	Route string `json:"route"`
	// Candidate is the version being rolled out.
	Candidate string `json:"candidate"`
	// Step is the step, from 1; 0 before the first.
	Step int32 `json:"step"`
	// Steps is the number of steps.
	Steps int32 `json:"steps"`
	// Weight is the candidate's percentage of the traffic no match takes.
	Weight int32 `json:"weight"`
	// Phase is the rollout's phase.
	Phase RolloutPhase `json:"phase"`
	// Message says what happened.
	Message string `json:"message"`
}

// SinkType says where the reconciler writes the rendered routing.
// +kubebuilder:validation:Enum=apply;git
type SinkType string

// The sink types.
const (
	// SinkApply applies the rendered objects with server-side apply, owned
	// by the Route; the default.
	SinkApply SinkType = "apply"
	// SinkGit commits the rendered kustomize folder to a Git repository,
	// which Flux (or another GitOps tool) applies.
	SinkGit SinkType = "git"
)

// SinkTypes lists every sink type.
var SinkTypes = []SinkType{SinkApply, SinkGit}

// Sink says where the reconciler writes the rendered routing.
//
// +kubebuilder:validation:XValidation:rule="(has(self.type) && self.type == 'git') == has(self.git)",message="git settings are needed with type git, and only then",fieldPath=".git"
type Sink struct {
	// Type is apply (default) or git.
	// +optional
	// +kubebuilder:default=apply
	Type SinkType `json:"type,omitempty"`

	// Git is the repository the git sink commits to.
	// +optional
	Git *GitSink `json:"git,omitempty"`
}

// GitSink is a folder of a branch of a Git repository that Flux applies:
// the reconciler commits the rendered kustomize folder there and pushes,
// rebasing on other writers' commits, never forcing.
type GitSink struct {
	// URL of the repository: http://, https:// or ssh://[user@]host[:port]/path
	// (user default git), without credentials (those go in the Secret of
	// SecretRef).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^(https?://[^\s/@]+|ssh://([A-Za-z0-9._-]+@)?[^\s/@]+)(/[^\s]*)?$`
	URL string `json:"url"`

	// Branch committed to. Default: main.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][-A-Za-z0-9._/]*$`
	Branch string `json:"branch,omitempty"`

	// Path is the folder, relative to the repository's root, that holds the
	// rendered kustomize folder: the path of the Flux Kustomization.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[-A-Za-z0-9._]+(/[-A-Za-z0-9._]+)*$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="path must stay inside the repository: no '.' or '..' segments"
	Path string `json:"path"`

	// SecretRef names a Secret in the Route's namespace holding the
	// repository's credentials in the format of a Flux GitRepository's: for
	// https, username (default git) and password (e.g. an access token) for
	// basic auth, or bearerToken, ca.crt (or caFile) to trust a private
	// certificate authority, and tls.crt with tls.key, a client certificate
	// for mutual TLS; for ssh, identity (a PEM private key, with password if
	// it is encrypted) and known_hosts (required). Default: none.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// Kustomization names the Flux Kustomization that applies Path. When
	// set, a commit counts as live only once the Kustomization's
	// status.lastAppliedRevision holds it; otherwise once it is pushed.
	// +optional
	Kustomization *NamespacedObjectReference `json:"kustomization,omitempty"`
}

// LocalObjectReference names an object in the Route's namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NamespacedObjectReference names an object, by default in the Route's
// namespace.
type NamespacedObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the object. Default: the Route's.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// ParentReference names a Gateway API parent of the rendered route.
type ParentReference struct {
	// Group of the parent. Default: gateway.networking.k8s.io; "" with
	// kind Service.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group *string `json:"group,omitempty"`
	// Kind of the parent. Default: Gateway.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Kind *string `json:"kind,omitempty"`
	// Namespace of the parent. Default: the Route's.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace *string `json:"namespace,omitempty"`
	// Name of the parent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// SectionName selects a listener of a Gateway or a port name of a
	// Service.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SectionName *string `json:"sectionName,omitempty"`
	// Port selects a port of the parent.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`
}

// Version is one version of the app: its backend, its share of traffic, and
// the objects whose readiness decides whether it may receive traffic.
//
// +kubebuilder:validation:XValidation:rule="has(self.service) != has(self.inferenceService)",message="a version needs exactly one backend: service or inferenceService"
type Version struct {
	// Name identifies the version in the Route; responses it serves carry
	// it in the x-iter8-version header.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Primary marks the version that takes the traffic no other rule
	// takes. Default: the first version is the primary.
	// +optional
	Primary bool `json:"primary,omitempty"`

	// Service is the version's backend for providers istio and gateway-api.
	// +optional
	Service *ServiceBackend `json:"service,omitempty"`

	// InferenceService is the version's backend for providers kserve and
	// kserve-modelmesh: a KServe InferenceService (a ModelMesh predictor
	// for kserve-modelmesh) in the Route's namespace.
	// +optional
	InferenceService *InferenceServiceBackend `json:"inferenceService,omitempty"`

	// Weight is, for blue-green, the version's relative share of traffic
	// (rendered as a percentage of the weights of the ready versions); for
	// mirror, the percentage of the primary's requests copied to this
	// version; for abn, the version's relative share of the users the A/B/n
	// service assigns (every version has a weight, or none does and all
	// share equally). Not used by canary.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// Match selects the requests a canary sends to this version: a request
	// that satisfies any one of the matches. Used only by canary, on every
	// version but the primary.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Match []Match `json:"match,omitempty"`

	// Readiness lists the objects that must be ready before the version
	// receives traffic. With none, the version is ready.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Readiness []ObjectReference `json:"readiness,omitempty"`
}

// ServiceBackend is a Kubernetes Service in the Route's namespace.
type ServiceBackend struct {
	// Name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// Port of the Service that serves the version.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Labels select the version's pods when versions share a Service
	// (istio renders DestinationRule subsets). Default: version: <name>.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Labels map[string]string `json:"labels,omitempty"`
}

// InferenceServiceBackend is a KServe InferenceService in the Route's
// namespace.
type InferenceServiceBackend struct {
	// Name of the InferenceService.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
}

// Match selects requests by headers and a cookie; a request matches when
// all of them do.
//
// +kubebuilder:validation:XValidation:rule="has(self.headers) || has(self.cookie)",message="a match needs headers or a cookie"
type Match struct {
	// Headers the request must carry.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Headers []HeaderMatch `json:"headers,omitempty"`
	// Cookie the request must carry.
	// +optional
	Cookie *CookieMatch `json:"cookie,omitempty"`
}

// HeaderMatch is a condition on one request header.
type HeaderMatch struct {
	// Name of the header (case-insensitive).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
	Name string `json:"name"`
	// Value to compare with.
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
	// Type is Exact (default) or RegularExpression (RE2, whole value).
	// +optional
	Type HeaderMatchType `json:"type,omitempty"`
}

// CookieMatch is a condition on one cookie: the request's Cookie header
// holds name=value.
type CookieMatch struct {
	// Name of the cookie.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
	Name string `json:"name"`
	// Value of the cookie, compared exactly.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^[^;,\s"\\]*$`
	Value string `json:"value"`
}

// ObjectReference names an object whose readiness gates a version.
type ObjectReference struct {
	// APIVersion of the object, e.g. apps/v1.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
	// Kind of the object, e.g. Deployment.
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the object. Default: the Route's.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// Condition is the type of a status condition that must be True. Default:
	// the object's kstatus (Current).
	// +optional
	// +kubebuilder:validation:MaxLength=316
	Condition string `json:"condition,omitempty"`
}

// RouteStatus is what the reconciler last applied.
type RouteStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready, Reconciling and Stalled, with the meanings
	// Flux gives them (fluxcd/pkg/apis/meta).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Versions is the traffic each version was last given.
	// +optional
	// +listType=map
	// +listMapKey=name
	Versions []VersionStatus `json:"versions,omitempty"`

	// LastRenderedRevision identifies the rendered objects last applied:
	// the Git commit for a Git sink, a digest of the objects otherwise.
	// +optional
	LastRenderedRevision string `json:"lastRenderedRevision,omitempty"`

	// LastAppliedRevision is the revision last confirmed live: the digest
	// once applied (apply sink); the commit once pushed, or once the Flux
	// Kustomization reports a revision that holds it (git sink). The
	// routing of Versions is live when it equals LastRenderedRevision.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastAppliedTime is when LastAppliedRevision was first confirmed
	// live, and its data planes accepted it. The objects its routing
	// takes traffic from are released once it has been live for the
	// controller's drain delay.
	// +optional
	LastAppliedTime *metav1.MicroTime `json:"lastAppliedTime,omitempty"`

	// Inventory lists the objects the apply sink applied, so that those no
	// longer rendered are pruned.
	// +optional
	// +listType=atomic
	Inventory []ResourceReference `json:"inventory,omitempty"`

	// Guarded lists the objects of non-primary versions that hold the
	// controller's finalizer, so that it is removed once they no longer
	// need it.
	// +optional
	// +listType=atomic
	Guarded []ResourceReference `json:"guarded,omitempty"`

	// Rollout is the state of the rollout of spec.rollout.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// RolloutPhase is where a rollout is.
type RolloutPhase string

// The rollout phases.
const (
	// RolloutWaiting: the candidate is not ready; the primary takes all
	// traffic.
	RolloutWaiting RolloutPhase = "Waiting"
	// RolloutProgressing: a step is being applied or analysed.
	RolloutProgressing RolloutPhase = "Progressing"
	// RolloutPaused: a step is held by its pause or a webhook.
	RolloutPaused RolloutPhase = "Paused"
	// RolloutSucceeded: the candidate is promoted: it takes all traffic.
	RolloutSucceeded RolloutPhase = "Succeeded"
	// RolloutRolledBack: an SLO failed, a webhook or a person aborted:
	// the primary takes all traffic.
	RolloutRolledBack RolloutPhase = "RolledBack"
	// RolloutFailed: a step's experiment failed or timed out: the primary
	// takes all traffic.
	RolloutFailed RolloutPhase = "Failed"
)

// Done reports whether the phase is final for its candidate.
func (p RolloutPhase) Done() bool {
	return p == RolloutSucceeded || p == RolloutRolledBack || p == RolloutFailed
}

// RolloutStage is where a step is.
type RolloutStage string

// The stages of a step, in order, and those of a rollout's end.
const (
	// StageApplying: the step's routing is written, not yet live.
	StageApplying RolloutStage = "Applying"
	// StageAnalysing: the step's experiment runs.
	StageAnalysing RolloutStage = "Analysing"
	// StagePausing: the step's pause holds it.
	StagePausing RolloutStage = "Pausing"
	// StageConfirming: the step's webhooks are asked.
	StageConfirming RolloutStage = "Confirming"
	// StagePromoting: the candidate's promotion is written, not yet live.
	StagePromoting RolloutStage = "Promoting"
	// StageRollingBack: the rollback is written, not yet live.
	StageRollingBack RolloutStage = "RollingBack"
	// StageDone: the phase is final.
	StageDone RolloutStage = "Done"
)

// The verdicts of a step's experiment (RolloutStatus.Verdict).
const (
	// VerdictPassed: the experiment completed and every SLO holds.
	VerdictPassed = "Passed"
	// VerdictFailed: an SLO was missed, or the experiment failed or timed
	// out.
	VerdictFailed = "Failed"
)

// RolloutStatus is the state of a rollout.
type RolloutStatus struct {
	// Candidate is the version rolled out.
	Candidate string `json:"candidate"`
	// ID identifies this rollout of the candidate; the experiments of its
	// steps are named after it.
	ID string `json:"id"`
	// Step is the current step, from 1; 0 before the first.
	Step int32 `json:"step"`
	// Phase is Waiting, Progressing, Paused, Succeeded, RolledBack or
	// Failed.
	Phase RolloutPhase `json:"phase"`
	// Stage is where the step is.
	Stage RolloutStage `json:"stage"`
	// Weight is the candidate's percentage of the requests no match takes,
	// as the rollout decides it.
	Weight int32 `json:"weight"`
	// Widened is true once a canary's candidate takes a weighted share.
	// +optional
	Widened bool `json:"widened,omitempty"`
	// StageTime is when the stage began.
	// +optional
	StageTime *metav1.Time `json:"stageTime,omitempty"`
	// Experiment names the experiment of the current step, once created.
	// +optional
	Experiment string `json:"experiment,omitempty"`
	// Verdict is the outcome of the current step's experiment: Passed,
	// Failed, or empty while it runs.
	// +optional
	Verdict string `json:"verdict,omitempty"`
	// Message says what the rollout waits for, or why it ended.
	// +optional
	Message string `json:"message,omitempty"`
	// LastHandledAction is the value of the route.iter8.tools/action
	// annotation (resume, promote or abort) last acted on.
	// +optional
	LastHandledAction string `json:"lastHandledAction,omitempty"`
	// History lists what the rollout did, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	History []RolloutRecord `json:"history,omitempty"`
}

// RolloutRecord is one thing a rollout did.
type RolloutRecord struct {
	// Time it happened.
	Time metav1.MicroTime `json:"time"`
	// Step it happened at, from 1; 0 before the first.
	Step int32 `json:"step"`
	// Phase after it.
	Phase RolloutPhase `json:"phase"`
	// Weight of the candidate after it.
	Weight int32 `json:"weight"`
	// Revision is the revision written for it (a Git commit, for a Git
	// sink), if it changed the routing.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Message says what happened.
	Message string `json:"message"`
}

// ResourceReference identifies an object.
type ResourceReference struct {
	// APIVersion of the object.
	APIVersion string `json:"apiVersion"`
	// Kind of the object.
	Kind string `json:"kind"`
	// Namespace of the object; empty for the Route's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the object.
	Name string `json:"name"`
}

// VersionStatus is the traffic a version is given.
type VersionStatus struct {
	// Name of the version.
	Name string `json:"name"`
	// Ready is whether the version's readiness objects are all ready.
	Ready bool `json:"ready"`
	// Weight is the percentage of the requests no match takes that the
	// version serves.
	Weight int32 `json:"weight"`
	// Matched is whether requests are routed to the version by a match:
	// its canary match, or its name in the x-iter8-version header (abn).
	// +optional
	Matched bool `json:"matched,omitempty"`
	// MirrorPercent is the percentage of the primary's requests copied to
	// the version (mirror).
	// +optional
	MirrorPercent int32 `json:"mirrorPercent,omitempty"`
	// Reason says why the version is not ready.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// GetConditions returns the status conditions; with SetConditions it makes
// a Route a conditions getter and setter for fluxcd/pkg/runtime.
func (r *Route) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces the status conditions.
func (r *Route) SetConditions(c []metav1.Condition) { r.Status.Conditions = c }

// +kubebuilder:object:root=true

// RouteList is a list of Routes.
type RouteList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Routes.
	Items []Route `json:"items"`
}
