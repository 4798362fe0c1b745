package reconcile_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// TestGitSinkCredentials writes Routes through the Git sinks Flux users
// have, with their GitRepository Secrets: a real SSH server on loopback
// (identity and known_hosts), and an HTTPS server of a test CA that wants
// a bearer token (bearerToken, ca.crt), and one that requires a client
// certificate of its own CA (ca.crt, tls.crt, tls.key). Each Route's
// commit lands on its branch; a wrong host key, a missing CA, a missing
// client certificate and a missing identity fail with the reason and what
// is wrong.
func TestGitSinkCredentials(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	versionObjects(t, c, ns, true, true)
	startController(t, ns, nil)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "iter8 test")
	if err != nil {
		t.Fatal(err)
	}
	identity := pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	plain := gittest.NewServer(t, gittest.ServerOptions{})
	plain.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	sshd := plain.ServeSSH(t, sshPub)
	// A known_hosts line for sshd's address with another key.
	otherKey, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := ssh.NewPublicKey(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	wrongHost := knownhosts.Line([]string{knownhosts.Normalize(strings.TrimPrefix(sshd.URL, "ssh://git@"))}, otherPub)

	tlsSrv := gittest.NewServer(t, gittest.ServerOptions{TLS: true, BearerToken: "t0ken"})
	tlsSrv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	mtls := gittest.NewServer(t, gittest.ServerOptions{TLS: true, ClientCertificates: true})
	mtls.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})

	for _, tc := range []struct {
		name, url, root string
		secret          map[string][]byte
		// want is the head commit's subject, or the Ready reason and a
		// part of its message.
		wantReason, wantMessage string
	}{
		{name: "ssh", url: sshd.URL + "/fleet", root: plain.Root,
			secret: map[string][]byte{"identity": identity, "known_hosts": []byte(sshd.KnownHosts)}},
		{name: "https-token", url: tlsSrv.URL + "/fleet", root: tlsSrv.Root,
			secret: map[string][]byte{"bearerToken": []byte("t0ken"), "ca.crt": tlsSrv.CA}},
		{name: "https-client-certificate", url: mtls.URL + "/fleet", root: mtls.Root,
			secret: map[string][]byte{"ca.crt": mtls.CA, "tls.crt": mtls.ClientCert, "tls.key": mtls.ClientKey}},
		{name: "https-without-client-certificate", url: mtls.URL + "/fleet", root: mtls.Root,
			secret:     map[string][]byte{"ca.crt": mtls.CA},
			wantReason: reconcile.ReasonGitOperationFailed, wantMessage: "certificate required"},
		{name: "ssh-wrong-host-key", url: sshd.URL + "/fleet",
			secret:     map[string][]byte{"identity": identity, "known_hosts": []byte(wrongHost)},
			wantReason: reconcile.ReasonGitOperationFailed, wantMessage: "key mismatch"},
		{name: "https-without-ca", url: tlsSrv.URL + "/fleet",
			secret:     map[string][]byte{"bearerToken": []byte("t0ken")},
			wantReason: reconcile.ReasonGitOperationFailed, wantMessage: "certificate signed by unknown authority"},
		{name: "ssh-without-identity", url: sshd.URL + "/fleet",
			secret:     map[string][]byte{"known_hosts": []byte(sshd.KnownHosts)},
			wantReason: reconcile.ReasonCredentialsNotFound, wantMessage: "has no key identity: an ssh:// URL needs a PEM private key there"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: ns}, Data: tc.secret}
			if err := c.Create(ctx, secret); err != nil {
				t.Fatal(err)
			}
			r := blueGreen(ns, 50, 50)
			r.Name = tc.name
			r.Spec.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{
				URL: tc.url, Branch: tc.name, Path: "routing/" + tc.name,
				SecretRef: &v1alpha1.LocalObjectReference{Name: tc.name},
			}}
			// Each Route writes its own branch, made from main.
			root := tc.root
			if root == "" {
				root = plain.Root
			}
			gittest.Git(t, root, "--git-dir", filepath.Join(root, "fleet"), "branch", tc.name, "main")
			if err := c.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			eventually(t, tc.name, func() (bool, string) {
				got := getRoute(t, c, ns, tc.name)
				cond := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
				if cond == nil {
					return false, "no Ready condition"
				}
				if tc.wantReason != "" {
					return cond.Status == metav1.ConditionFalse && cond.Reason == tc.wantReason && strings.Contains(cond.Message, tc.wantMessage),
						fmt.Sprintf("Ready %s %s: %s", cond.Status, cond.Reason, cond.Message)
				}
				if cond.Status != metav1.ConditionTrue {
					return false, fmt.Sprintf("Ready %s %s: %s", cond.Status, cond.Reason, cond.Message)
				}
				head := gittest.Git(t, root, "--git-dir", filepath.Join(root, "fleet"), "rev-parse", tc.name)
				files := gittest.Git(t, root, "--git-dir", filepath.Join(root, "fleet"), "ls-tree", "-r", "--name-only", tc.name, "routing/"+tc.name)
				return got.Status.LastAppliedRevision == tc.name+"@sha1:"+head && strings.Contains(files, "kustomization.yaml"),
					fmt.Sprintf("applied %s, head %s, files %q", got.Status.LastAppliedRevision, head, files)
			})
		})
	}
}
