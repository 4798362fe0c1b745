package route

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/iter8-tools/iter8/pkg/gitops"
)

// Environment variables holding a Git token for --push.
const (
	// TokenEnv holds a token (e.g. a GitHub or GitLab access token) sent as
	// the password of HTTP basic auth.
	TokenEnv = "ITER8_GIT_TOKEN"
	// UsernameEnv holds the username sent with the token; default "git".
	UsernameEnv = "ITER8_GIT_USERNAME"
)

// gitAuth returns the credentials to push to url: the token of TokenEnv;
// else, for an HTTP(S) remote, what the user's Git credential helpers hold
// for its URL; else none, leaving go-git to the URL's own credentials or
// the SSH agent. Credentials are never printed.
func gitAuth(ctx context.Context, dir, url string) transport.AuthMethod {
	if token := os.Getenv(TokenEnv); token != "" {
		user := os.Getenv(UsernameEnv)
		if user == "" {
			user = "git"
		}
		return &http.BasicAuth{Username: user, Password: token}
	}
	if !isHTTP(url) {
		return nil
	}
	if user, pass, ok := credentialFill(ctx, dir, url); ok {
		return &http.BasicAuth{Username: user, Password: pass}
	}
	return nil
}

func isHTTP(url string) bool {
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

// gitTLS holds what git itself trusts and presents for an https remote.
type gitTLS struct {
	caBundle, clientCert, clientKey []byte
}

// tlsSettings are git's TLS settings for https: each is taken from its
// environment variable, else from the Git configuration for the URL.
var tlsSettings = []struct{ env, config string }{
	{"GIT_SSL_CAINFO", "http.sslCAInfo"},
	{"GIT_SSL_CERT", "http.sslCert"},
	{"GIT_SSL_KEY", "http.sslKey"},
}

// gitTLSFor reads the files git's TLS settings name for url, as git push
// would: authorities trusted besides the system's, and a client
// certificate and its key (in the certificate's file when no key is set).
// A file that cannot be read, or a certificate and key that do not pair,
// is an error naming the setting.
func gitTLSFor(ctx context.Context, dir, url string) (gitTLS, error) {
	if !strings.HasPrefix(url, "https://") {
		return gitTLS{}, nil
	}
	var files [3][]byte
	var names [3]string
	for i, st := range tlsSettings {
		path, name := os.Getenv(st.env), "$"+st.env
		if path == "" {
			path, name = configURLMatch(ctx, dir, st.config, url), st.config
		}
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return gitTLS{}, fmt.Errorf("reading %s: %w", name, err)
		}
		files[i], names[i] = b, name
	}
	t := gitTLS{caBundle: files[0], clientCert: files[1], clientKey: files[2]}
	switch {
	case t.clientCert == nil && t.clientKey != nil:
		return gitTLS{}, fmt.Errorf("%s is set without a client certificate (%s or %s)", names[2], "$"+tlsSettings[1].env, tlsSettings[1].config)
	case t.clientCert != nil && t.clientKey == nil:
		t.clientKey = t.clientCert
		names[2] = names[1]
	}
	if t.clientCert != nil {
		if _, err := tls.X509KeyPair(t.clientCert, t.clientKey); err != nil {
			return gitTLS{}, fmt.Errorf("the client certificate of %s and the key of %s: %w", names[1], names[2], err)
		}
	}
	return t, nil
}

// configURLMatch returns the value, a path, of the Git configuration key
// for url (git config --get-urlmatch), or "" when it is unset or git is
// missing.
func configURLMatch(ctx context.Context, dir, key, url string) string {
	cmd := exec.CommandContext(ctx, "git", "config", "--type=path", "--get-urlmatch", key, url)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// credentialFill asks the git CLI's credential helpers for the username and
// password of url, without prompting. It reports false when git is missing
// or no helper knows the URL.
func credentialFill(ctx context.Context, dir, url string) (user, pass string, ok bool) {
	cmd := exec.CommandContext(ctx, "git", "credential", "fill")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never", "GIT_ASKPASS=", "SSH_ASKPASS=")
	cmd.Stdin = strings.NewReader("url=" + url + "\n\n")
	out, err := cmd.Output()
	if err != nil {
		return "", "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	return user, pass, pass != ""
}

// push pushes the checkout's branch to remote, with the credentials
// gitAuth finds and the TLS settings of gitTLSFor.
func push(ctx context.Context, repo *gitops.Repository, remote string) error {
	url, err := repo.RemoteURL(remote)
	if err != nil {
		return err
	}
	t, err := gitTLSFor(ctx, repo.Root(), url)
	if err != nil {
		return err
	}
	return repo.Push(ctx, gitops.PushOptions{RemoteName: remote, Auth: gitAuth(ctx, repo.Root(), url),
		CABundle: t.caBundle, ClientCert: t.clientCert, ClientKey: t.clientKey})
}
