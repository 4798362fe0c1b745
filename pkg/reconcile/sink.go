package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// sinkResult is what a sink did with the rendered routing.
type sinkResult struct {
	// revision identifies what was written: sha256:<digest> (apply) or
	// <branch>@sha1:<commit> (git), as Flux writes revisions.
	revision string
	// live is true when the routing is confirmed in place.
	live bool
	// waitReason and waitMessage say what is awaited when not live.
	waitReason, waitMessage string
}

// write sends the rendered routing to the Route's sink.
func (r *RouteReconciler) write(ctx context.Context, route *v1alpha1.Route, out *render.Output) (sinkResult, error) {
	if route.Spec.SinkType() == v1alpha1.SinkGit {
		return r.writeGit(ctx, route, out)
	}
	return r.apply(ctx, route, out)
}

// apply applies the rendered objects server-side, controlled by the Route,
// then deletes the objects it applied before and no longer renders.
func (r *RouteReconciler) apply(ctx context.Context, route *v1alpha1.Route, out *render.Output) (sinkResult, error) {
	rev, err := digest(out.Objects)
	if err != nil {
		return sinkResult{}, err
	}
	var applied []v1alpha1.ResourceReference
	for _, o := range out.Objects {
		obj := o.DeepCopy()
		if err := controllerutil.SetControllerReference(route, obj, r.Scheme()); err != nil {
			return sinkResult{}, err
		}
		if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			route.Status.Inventory = union(route.Status.Inventory, applied)
			if kmeta.IsNoMatchError(err) {
				return sinkResult{}, retry(ReasonApplyFailed, "applying %s %s: the API server does not serve %s: install its CRDs", obj.GetKind(), obj.GetName(), obj.GetAPIVersion())
			}
			return sinkResult{}, retry(ReasonApplyFailed, "applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		applied = append(applied, resourceOf(obj))
	}
	if err := r.prune(ctx, route, route.Status.Inventory, applied); err != nil {
		route.Status.Inventory = union(route.Status.Inventory, applied)
		return sinkResult{}, err
	}
	route.Status.Inventory = applied
	return sinkResult{revision: rev, live: true}, nil
}

// prune deletes the objects of old that are not in keep, if the Route
// still controls them.
func (r *RouteReconciler) prune(ctx context.Context, route *v1alpha1.Route, old, keep []v1alpha1.ResourceReference) error {
	for _, e := range old {
		if contains(keep, e) {
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(e.APIVersion)
		u.SetKind(e.Kind)
		ns := e.Namespace
		if ns == "" {
			ns = route.Namespace
		}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: e.Name}, u)
		if apierrors.IsNotFound(err) || kmeta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return retry(ReasonApplyFailed, "pruning %s %s: %w", e.Kind, e.Name, err)
		}
		if !metav1.IsControlledBy(u, route) {
			continue
		}
		uid := u.GetUID()
		err = r.Delete(ctx, u, client.Preconditions{UID: &uid})
		if err != nil && !apierrors.IsNotFound(err) {
			return retry(ReasonApplyFailed, "pruning %s %s: %w", e.Kind, e.Name, err)
		}
	}
	return nil
}

// writeGit commits the rendered kustomize folder to the Git sink and
// checks whether the Flux Kustomization, if named, applied it.
func (r *RouteReconciler) writeGit(ctx context.Context, route *v1alpha1.Route, out *render.Output) (sinkResult, error) {
	g := route.Spec.Sink.Git
	access, err := r.gitAccess(ctx, route)
	if err != nil {
		return sinkResult{}, err
	}
	t := GitTarget{URL: g.URL, Branch: branchOf(g), Path: g.Path, Auth: access.auth, CABundle: access.caBundle, ClientCert: access.clientCert, ClientKey: access.clientKey}
	commit, err := r.Git.Write(ctx, t, out.Objects, out.CommitMessage(route, ControllerName))
	if err != nil {
		return sinkResult{}, retry(ReasonGitOperationFailed, "writing %s of branch %s of %s: %w", t.Path, t.Branch, t.URL, err)
	}
	res := sinkResult{revision: t.Branch + "@sha1:" + commit.String()}
	ref, ok := kustomizationOf(route)
	if !ok {
		res.live = true
		return res, nil
	}
	ks, why, err := r.read(ctx, ref)
	if err != nil {
		return sinkResult{}, retry(ReasonReconciliationFailed, "reading %s: %w", ref, err)
	}
	if ks == nil {
		res.waitReason, res.waitMessage = ReasonWaitingForKustomization, fmt.Sprintf("committed %s; %s: %s", res.revision, ref, why)
		return res, nil
	}
	applied, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
	if h, ok := revisionCommit(applied); ok {
		in, err := r.Git.Contains(ctx, t, commit, h)
		if err != nil {
			return sinkResult{}, retry(ReasonGitOperationFailed, "checking whether %s holds %s: %w", applied, res.revision, err)
		}
		if in {
			res.live = true
			return res, nil
		}
	}
	if applied == "" {
		applied = "nothing yet"
	}
	res.waitReason = ReasonWaitingForKustomization
	res.waitMessage = fmt.Sprintf("committed %s; waiting for %s to apply it (it applied %s)", res.revision, ref, applied)
	return res, nil
}

// gitAccess reads the credentials of the Git sink from its Secret (see
// gitAccessOf); none without secretRef.
func (r *RouteReconciler) gitAccess(ctx context.Context, route *v1alpha1.Route) (gitAccess, error) {
	g := route.Spec.Sink.Git
	ref := g.SecretRef
	if ref == nil {
		if strings.HasPrefix(g.URL, "ssh://") {
			return gitAccess{}, retry(ReasonCredentialsNotFound, "spec.sink.git.url %s is ssh://: set spec.sink.git.secretRef to a Secret with identity and known_hosts", g.URL)
		}
		return gitAccess{}, nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: route.Namespace, Name: ref.Name}, &s)
	if apierrors.IsNotFound(err) {
		return gitAccess{}, retry(ReasonCredentialsNotFound, "the Secret %s/%s of spec.sink.git.secretRef was not found", route.Namespace, ref.Name)
	}
	if err != nil {
		return gitAccess{}, retry(ReasonCredentialsNotFound, "reading the Secret %s/%s of spec.sink.git.secretRef: %w", route.Namespace, ref.Name, err)
	}
	a, err := gitAccessOf(g.URL, route.Namespace+"/"+ref.Name, s.Data)
	if err != nil {
		return gitAccess{}, retry(ReasonCredentialsNotFound, "%w", err)
	}
	return a, nil
}

// branchOf is the sink's branch, main by default.
func branchOf(g *v1alpha1.GitSink) string {
	if g.Branch == "" {
		return "main"
	}
	return g.Branch
}

// kustomizationOf is the Flux Kustomization the Route's Git sink names.
func kustomizationOf(route *v1alpha1.Route) (objectRef, bool) {
	s := route.Spec.Sink
	if s == nil || s.Git == nil || s.Git.Kustomization == nil {
		return objectRef{}, false
	}
	ns := s.Git.Kustomization.Namespace
	if ns == "" {
		ns = route.Namespace
	}
	return objectRef{gvk: kustomizationGVK, namespace: ns, name: s.Git.Kustomization.Name}, true
}

// fluxRevision matches the revisions Flux records: <branch>@sha1:<commit>,
// and the older <branch>/<commit>.
var fluxRevision = regexp.MustCompile(`(?:@sha1:|/)([0-9a-f]{40})$`)

// revisionCommit is the commit of a Flux revision.
func revisionCommit(rev string) (plumbing.Hash, bool) {
	m := fluxRevision.FindStringSubmatch(rev)
	if m == nil {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(m[1]), true
}

// digest identifies a set of rendered objects: sha256 of their YAML.
func digest(objs []*unstructured.Unstructured) (string, error) {
	h := sha256.New()
	for _, o := range objs {
		b, err := manifest.Marshal(o)
		if err != nil {
			return "", err
		}
		h.Write(b)
		h.Write([]byte("---\n"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func resourceOf(o *unstructured.Unstructured) v1alpha1.ResourceReference {
	return v1alpha1.ResourceReference{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Name: o.GetName()}
}

func contains(list []v1alpha1.ResourceReference, e v1alpha1.ResourceReference) bool {
	for _, x := range list {
		if x.Kind == e.Kind && x.Name == e.Name && x.Namespace == e.Namespace && groupOf(x.APIVersion) == groupOf(e.APIVersion) {
			return true
		}
	}
	return false
}

func groupOf(apiVersion string) string {
	g, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		return ""
	}
	return g
}

// union is a with the elements of b it lacks.
func union(a, b []v1alpha1.ResourceReference) []v1alpha1.ResourceReference {
	out := append([]v1alpha1.ResourceReference(nil), a...)
	for _, e := range b {
		if !contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
