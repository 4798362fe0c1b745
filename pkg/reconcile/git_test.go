package reconcile_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// rendered renders the blueGreen Route with the given versions ready.
func rendered(t *testing.T, ready ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := render.Render(blueGreen("shop", 50, 50), sets.New(ready...))
	if err != nil {
		t.Fatal(err)
	}
	return out.Objects
}

// racingServer proxies a Git server and, when the first push begins, has
// someone else push first: the push it proxies is then not a fast-forward.
type racingServer struct {
	*httptest.Server
	once sync.Once
}

func newRacingServer(t *testing.T, target string, before func()) *racingServer {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &racingServer{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") == "git-receive-pack" {
			s.once.Do(before)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestGitWriterKeepsOtherWritersCommits pushes while someone else pushes
// to the same branch: their commit stays, whether it changed other files
// (our commit is replayed on theirs) or the files we write (the folder is
// written anew on their commit); nothing is forced.
func TestGitWriterKeepsOtherWritersCommits(t *testing.T) {
	const folder = "clusters/prod/checkout"
	tests := []struct {
		name  string
		file  string // what the other writer changes
		wantV string // the content of file at the end, "" for ours
	}{
		{name: "another file", file: "apps/other.yaml", wantV: "other: true\n"},
		{name: "a file we write", file: folder + "/virtualservice-checkout.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			srv := gittest.NewServer(t, gittest.ServerOptions{})
			origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
			w := reconcile.NewGitWriter(t.TempDir())

			first, err := w.Write(ctx, reconcile.GitTarget{URL: origin, Branch: "main", Path: folder}, rendered(t, "v1"), "ours: v2 not ready")
			if err != nil {
				t.Fatal(err)
			}
			race := newRacingServer(t, srv.URL, func() {
				other := gittest.Clone(t, origin)
				gittest.WriteFile(t, filepath.Join(other, tt.file), "other: true\n")
				gittest.Git(t, other, "add", "--all")
				gittest.Git(t, other, "commit", "--quiet", "-m", "theirs")
				gittest.Git(t, other, "push", "--quiet", "origin", "main")
			})
			// A clone through the racing proxy: someone pushes before it does.
			target := reconcile.GitTarget{URL: race.URL + "/fleet", Branch: "main", Path: folder}
			second, err := w.Write(ctx, target, rendered(t, "v1", "v2"), "ours: v2 ready")
			if err != nil {
				t.Fatal(err)
			}

			check := gittest.Clone(t, origin)
			log := strings.Split(gittest.Git(t, check, "log", "--format=%s"), "\n")
			if diff := cmp.Diff([]string{"ours: v2 ready", "theirs", "ours: v2 not ready", "initial"}, log); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if head := gittest.Git(t, check, "rev-parse", "HEAD"); head != second.String() || second == first {
				t.Errorf("Write returned %s, the branch is at %s", second, head)
			}
			want := tt.wantV
			if want == "" {
				b, err := manifest.Marshal(rendered(t, "v1", "v2")[0])
				if err != nil {
					t.Fatal(err)
				}
				want = string(b)
			}
			if got, err := os.ReadFile(filepath.Join(check, tt.file)); err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", tt.file, got, err, want)
			}
			objs, err := gitops.Build(filepath.Join(check, folder))
			if err != nil {
				t.Fatal(err)
			}
			if got := vsWeights(objs[0]); !cmp.Equal(got, map[string]int64{"v1": 50, "v2": 50}) {
				t.Errorf("weights in Git: %v", got)
			}
		})
	}
}

// TestGitWriterSkipsUnchanged: writing what the folder holds makes no
// commit and returns the commit that last changed the folder.
func TestGitWriterSkipsUnchanged(t *testing.T) {
	ctx := t.Context()
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "iter8", Password: "s3cret"})
	origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	target := reconcile.GitTarget{URL: origin, Branch: "main", Path: "routing", Auth: &githttp.BasicAuth{Username: "iter8", Password: "s3cret"}}
	w := reconcile.NewGitWriter(t.TempDir())
	first, err := w.Write(ctx, target, rendered(t, "v1"), "routing")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else commits elsewhere: the folder's last change stays ours.
	authed := strings.Replace(origin, "http://", "http://iter8:s3cret@", 1)
	other := gittest.Clone(t, authed)
	gittest.WriteFile(t, filepath.Join(other, "README.md"), "changed\n")
	gittest.Git(t, other, "commit", "--quiet", "-am", "readme")
	gittest.Git(t, other, "push", "--quiet", "origin", "main")

	again, err := w.Write(ctx, target, rendered(t, "v1"), "routing again")
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("unchanged write returned %s, want %s", again, first)
	}
	if n := gittest.Git(t, gittest.Clone(t, authed), "rev-list", "--count", "HEAD"); n != "3" {
		t.Errorf("%s commits, want 3 (initial, routing, readme)", n)
	}
	if _, err := w.Write(ctx, reconcile.GitTarget{URL: origin, Branch: "main", Path: "routing"}, rendered(t, "v1"), "no auth"); err == nil {
		t.Error("a write without credentials succeeded")
	}
}

// TestGitSinkWaitsForKustomization runs the controller with a Git sink
// against a Git server that needs credentials and the real Kustomization
// CRD: a commit is live only once the Kustomization reports it applied,
// and a deleted candidate is held until then.
func TestGitSinkWaitsForKustomization(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	dirs, err := testenv.FluxCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, dirs...); err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "flux", Password: "t0ken"})
	origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	authed := strings.Replace(origin, "http://", "http://flux:t0ken@", 1)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: ns},
		Data:       map[string][]byte{"username": []byte("flux"), "password": []byte("t0ken")},
	}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	versionObjects(t, c, ns, true, true)
	startController(t, ns, nil)
	r := blueGreen(ns, 50, 50)
	r.Spec.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{
		URL: origin, Path: "clusters/prod/checkout",
		SecretRef:     &v1alpha1.LocalObjectReference{Name: "git-auth"},
		Kustomization: &v1alpha1.NamespacedObjectReference{Name: "routing"},
	}}
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}

	// gitWeights reads the routing at the head of the branch.
	gitWeights := func() (map[string]int64, string) {
		clone := gittest.Clone(t, authed)
		objs, err := gitops.Build(filepath.Join(clone, "clusters/prod/checkout"))
		if err != nil || len(objs) != 1 {
			return nil, ""
		}
		return vsWeights(objs[0]), "main@sha1:" + gittest.Git(t, clone, "rev-parse", "HEAD")
	}
	waiting := func(rev string) (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		cond := apimeta.FindStatusCondition(r.Status.Conditions, meta.ReadyCondition)
		return cond != nil && cond.Status == metav1.ConditionUnknown && cond.Reason == reconcile.ReasonWaitingForKustomization &&
			r.Status.LastRenderedRevision == rev && r.Status.LastAppliedRevision != rev, fmt.Sprint(r.Status.LastRenderedRevision, r.Status.Conditions)
	}

	var rev1 string
	eventually(t, "committed, waiting for the Kustomization", func() (bool, string) {
		w, rev := gitWeights()
		if !cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}) {
			return false, fmt.Sprint("weights in Git: ", w)
		}
		rev1 = rev
		return waiting(rev)
	})
	if msg := apimeta.FindStatusCondition(getRoute(t, c, ns, "checkout").Status.Conditions, meta.ReadyCondition).Message; !strings.Contains(msg, "not found") {
		t.Errorf("Ready message %q does not say the Kustomization is missing", msg)
	}

	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "routing", "namespace": ns},
		"spec": map[string]any{
			"interval": "1m", "path": "./clusters/prod/checkout", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "fleet"},
		},
	}}
	if err := c.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	applied := func(rev string) {
		t.Helper()
		if err := unstructured.SetNestedField(ks.Object, rev, "status", "lastAppliedRevision"); err != nil {
			t.Fatal(err)
		}
		if err := c.Status().Update(ctx, ks); err != nil {
			t.Fatal(err)
		}
	}
	applied(rev1)
	eventually(t, "Ready once Flux applied the commit", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		ok, msg := ready(r)
		return ok && r.Status.LastAppliedRevision == rev1, msg
	})

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-v2"}}
	if err := c.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	var rev2 string
	eventually(t, "the routing without v2 committed", func() (bool, string) {
		w, rev := gitWeights()
		if !cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) {
			return false, fmt.Sprint("weights in Git: ", w)
		}
		rev2 = rev
		return waiting(rev)
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil || !controllerutil.ContainsFinalizer(d, reconcile.VersionFinalizer(ns, "checkout")) {
		t.Fatalf("the Deployment must stay until Flux applied the commit: %v, finalizers %v", err, d.Finalizers)
	}

	applied(rev2)
	eventually(t, "the Deployment goes once Flux applied the commit", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(d), &appsv1.Deployment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	eventually(t, "Ready", func() (bool, string) { return ready(getRoute(t, c, ns, "checkout")) })
}
