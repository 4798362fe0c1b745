package testenv

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// CreateNamespace creates a namespace and returns its name.
func (e *Env) CreateNamespace(ctx context.Context, name string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return name, nil
}

// Token mints a token for the ServiceAccount namespace/name with the
// TokenRequest API, valid for an hour.
func (e *Env) Token(ctx context.Context, namespace, name string) (string, error) {
	tr := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}
	tr, err := e.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// ConfigFor returns a client configuration that authenticates with token.
func (e *Env) ConfigFor(token string) *rest.Config {
	c := rest.AnonymousClientConfig(e.Config)
	c.BearerToken = token
	return c
}

// WriteKubeconfig writes a kubeconfig file for this control plane whose user
// (named user) authenticates with token.
func (e *Env) WriteKubeconfig(path, user, token string) error {
	return e.writeKubeconfig(path, user, &clientcmdapi.AuthInfo{Token: token})
}

// writeKubeconfig writes a kubeconfig file for this control plane whose user
// (named user) authenticates as auth says.
func (e *Env) writeKubeconfig(path, user string, auth *clientcmdapi.AuthInfo) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["iter8-testenv"] = &clientcmdapi.Cluster{
		Server:                   e.Config.Host,
		CertificateAuthorityData: e.pki.caPEM,
	}
	cfg.AuthInfos[user] = auth
	cfg.Contexts["iter8-testenv"] = &clientcmdapi.Context{Cluster: "iter8-testenv", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "iter8-testenv"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
