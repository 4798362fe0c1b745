// Package routes gives the A/B/n service its applications from the Routes
// of a namespace. It is apart from package abn, so that the SDK does not
// link the Kubernetes client.
package routes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/readiness"
	routefile "github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// RoutesResource is the resource of Routes.
var RoutesResource = v1alpha1.GroupVersion.WithResource("routes")

// DefaultReadinessInterval is how often RouteApplications re-reads the
// objects that decide its versions' readiness.
const DefaultReadinessInterval = 2 * time.Second

// RouteApplications are the applications of the Routes with the abn
// strategy in a namespace. Routes are watched; the readiness of the objects
// their versions name (the backend, a Service or InferenceService, then
// the readiness objects, judged as the Route reconciler judges them) is
// read on every change of a Route and every DefaultReadinessInterval.
//
// An application is named by the Route's spec.app, else by its name; its
// versions are the Route's, in order, its baseline the Route's primary.
// Each version weighs its Route weight, or 1 without one, and is ready when
// every object it names is. Seed and HeaderValue are left to their
// defaults. When two Routes name the same application, the one whose name
// sorts first is used.
//
// Application answers from memory and is safe for concurrent use.
type RouteApplications struct {
	namespace string
	dyn       dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	routes    cache.SharedIndexInformer
	interval  time.Duration
	kick      chan struct{}
	apps      atomic.Pointer[map[string]abn.App]
}

// NewRouteApplications watches the Routes of namespace with cfg and
// returns their applications once the watch has synced and readiness has
// been read once. The watch stops when ctx ends. It fails when Routes
// cannot be listed (the CRD is not installed, access is denied, or the API
// server cannot be reached).
func NewRouteApplications(ctx context.Context, cfg *rest.Config, namespace string) (*RouteApplications, error) {
	return newRouteApplications(ctx, cfg, namespace, DefaultReadinessInterval)
}

func newRouteApplications(ctx context.Context, cfg *rest.Config, namespace string, interval time.Duration) (*RouteApplications, error) {
	if namespace == "" {
		return nil, errors.New("reading Routes: no namespace given")
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("reading Routes: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("reading Routes: %w", err)
	}
	// Fail fast, with the API server's reason, rather than wait forever
	// for a watch that cannot sync.
	if _, err := dyn.Resource(RoutesResource).Namespace(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("listing Routes in namespace %s: %w", namespace, err)
	}
	r := &RouteApplications{
		namespace: namespace,
		dyn:       dyn,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		interval:  interval,
		kick:      make(chan struct{}, 1),
	}
	empty := map[string]abn.App{}
	r.apps.Store(&empty)
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, nil)
	r.routes = f.ForResource(RoutesResource).Informer()
	if _, err := r.routes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.poke() },
		UpdateFunc: func(any, any) { r.poke() },
		DeleteFunc: func(any) { r.poke() },
	}); err != nil {
		return nil, fmt.Errorf("watching Routes: %w", err)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), r.routes.HasSynced) {
		return nil, fmt.Errorf("watching Routes in namespace %s: %w", namespace, context.Cause(ctx))
	}
	r.refresh(ctx)
	go r.loop(ctx)
	return r, nil
}

// Application returns the named application.
func (r *RouteApplications) Application(name string) (abn.App, bool) {
	a, ok := (*r.apps.Load())[name]
	return a, ok
}

// Names returns the names of the applications, sorted.
func (r *RouteApplications) Names() []string {
	apps := *r.apps.Load()
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// poke asks the loop to refresh, without blocking.
func (r *RouteApplications) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// loop refreshes the applications on every change of a Route and every
// interval, until ctx ends. It alone writes r.apps.
func (r *RouteApplications) loop(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-t.C:
		}
		r.refresh(ctx)
	}
}

// refresh rebuilds the applications from the cached Routes and the
// objects their versions name, and replaces them.
func (r *RouteApplications) refresh(ctx context.Context) {
	prev := *r.apps.Load()
	var routes []*v1alpha1.Route
	for _, o := range r.routes.GetStore().List() {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		route := &v1alpha1.Route{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, route); err != nil {
			continue
		}
		if route.Spec.Strategy != v1alpha1.StrategyABN || len(route.Spec.Versions) == 0 {
			continue
		}
		routes = append(routes, route)
	}
	slices.SortFunc(routes, func(a, b *v1alpha1.Route) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	next := make(map[string]abn.App, len(routes))
	rd := &reads{objs: map[objectRef]objectState{}}
	for _, route := range routes {
		name := route.Spec.App
		if name == "" {
			name = route.Name
		}
		if _, dup := next[name]; dup || abn.ValidateName("name", name) != nil {
			continue
		}
		old, hadOld := prev[name]
		a := abn.App{Name: name, Baseline: route.Spec.Versions[route.Spec.PrimaryIndex()].Name}
		for i := range route.Spec.Versions {
			v := &route.Spec.Versions[i]
			w := uint32(1)
			if v.Weight != nil {
				w = uint32(max(*v.Weight, 0))
			}
			ready, known := r.versionReady(ctx, route, v, rd)
			if !known {
				// A transient error: keep what was known.
				ready = false
				if hadOld {
					if j := slices.IndexFunc(old.Versions, func(o abn.Version) bool { return o.Name == v.Name }); j >= 0 {
						ready = old.Versions[j].Ready
					}
				}
			}
			a.Versions = append(a.Versions, abn.Version{Name: v.Name, Weight: w, Ready: ready})
		}
		next[name] = a
	}
	r.apps.Store(&next)
}

// objectRef identifies an object a version names.
type objectRef struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// objectState is an object as read in one refresh: nil when it does not
// exist; err when it could not be read.
type objectState struct {
	obj *unstructured.Unstructured
	err error
}

// reads are the objects read in one refresh, and whether discovery was
// reset in it: at most once, or a kind that is not installed would reset it
// for each of its objects.
type reads struct {
	objs  map[objectRef]objectState
	reset bool
}

// versionReady says whether every object the version names is ready;
// known is false when one could not be read.
func (r *RouteApplications) versionReady(ctx context.Context, route *v1alpha1.Route, v *v1alpha1.Version, rd *reads) (ready, known bool) {
	// Judged as the Route reconciler judges them, so that users are only
	// assigned to versions the routing serves.
	checks, err := routefile.VersionChecks(route, v)
	if err != nil {
		return false, true
	}
	known = true
	for _, c := range checks {
		ref := objectRef{c.GVK, c.Namespace, c.Name}
		st, ok := rd.objs[ref]
		if !ok {
			st = r.read(ctx, ref, rd)
			rd.objs[ref] = st
		}
		switch {
		case st.err != nil:
			known = false
		case !readiness.Of(st.obj, c.Conditions).Ready:
			// Not ready whatever the objects that could not be read say.
			return false, true
		}
	}
	return known, known
}

// read gets an object; a kind the API server does not serve is an object
// that does not exist.
func (r *RouteApplications) read(ctx context.Context, ref objectRef, rd *reads) objectState {
	m, err := r.mapper.RESTMapping(ref.gvk.GroupKind(), ref.gvk.Version)
	if kmeta.IsNoMatchError(err) && !rd.reset {
		// The kind may have been installed since discovery was cached.
		rd.reset = true
		r.mapper.Reset()
		m, err = r.mapper.RESTMapping(ref.gvk.GroupKind(), ref.gvk.Version)
	}
	switch {
	case kmeta.IsNoMatchError(err):
		return objectState{}
	case err != nil:
		return objectState{err: err}
	}
	var ri dynamic.ResourceInterface = r.dyn.Resource(m.Resource)
	if m.Scope.Name() == kmeta.RESTScopeNameNamespace {
		ri = r.dyn.Resource(m.Resource).Namespace(ref.namespace)
	}
	u, err := ri.Get(ctx, ref.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return objectState{}
	case err != nil:
		return objectState{err: err}
	}
	return objectState{obj: u}
}
