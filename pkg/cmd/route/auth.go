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
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil
	}
	if user, pass, ok := credentialFill(ctx, dir, url); ok {
		return &http.BasicAuth{Username: user, Password: pass}
	}
	return nil
}

// setGitTLS sets opts' CA bundle and client certificate from the files
// git's TLS settings name for url, as git push would: authorities trusted
// besides the system's, and a client certificate and its key (in the
// certificate's file when no key is set). A file that cannot be read, or a
// certificate and key that do not pair, is an error naming the setting.
func setGitTLS(ctx context.Context, dir, url string, opts *gitops.PushOptions) error {
	if !strings.HasPrefix(url, "https://") {
		return nil
	}
	ca, _, err := readGitSetting(ctx, dir, url, "GIT_SSL_CAINFO", "http.sslCAInfo")
	if err != nil {
		return err
	}
	cert, certFrom, err := readGitSetting(ctx, dir, url, "GIT_SSL_CERT", "http.sslCert")
	if err != nil {
		return err
	}
	key, keyFrom, err := readGitSetting(ctx, dir, url, "GIT_SSL_KEY", "http.sslKey")
	if err != nil {
		return err
	}
	switch {
	case cert == nil && key != nil:
		return fmt.Errorf("%s is set without a client certificate ($GIT_SSL_CERT or http.sslCert)", keyFrom)
	case cert != nil && key == nil:
		key, keyFrom = cert, certFrom
	}
	if cert != nil {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return fmt.Errorf("the client certificate of %s and the key of %s: %w", certFrom, keyFrom, err)
		}
	}
	opts.CABundle, opts.ClientCert, opts.ClientKey = ca, cert, key
	return nil
}

// readGitSetting reads the file that the environment variable env names,
// else the file of the Git configuration key for url; nil when neither is
// set. It returns the setting the file came from.
func readGitSetting(ctx context.Context, dir, url, env, key string) ([]byte, string, error) {
	path, from := os.Getenv(env), "$"+env
	if path == "" {
		path, from = configURLMatch(ctx, dir, key, url), key
	}
	if path == "" {
		return nil, "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", from, err)
	}
	return b, from, nil
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
// gitAuth finds and the TLS settings of setGitTLS.
func push(ctx context.Context, repo *gitops.Repository, remote string) error {
	url, err := repo.RemoteURL(remote)
	if err != nil {
		return err
	}
	opts := gitops.PushOptions{RemoteName: remote}
	if err := setGitTLS(ctx, repo.Root(), url, &opts); err != nil {
		return err
	}
	opts.Auth = gitAuth(ctx, repo.Root(), url)
	return repo.Push(ctx, opts)
}
