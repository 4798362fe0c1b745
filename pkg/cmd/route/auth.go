package route

import (
	"bufio"
	"bytes"
	"context"
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

// gitAuth returns the credentials to push to a remote: the token of
// TokenEnv; else, for an HTTP(S) remote, what the user's Git credential
// helpers hold for its URL; else none, leaving go-git to the URL's own
// credentials or the SSH agent. Credentials are never printed.
func gitAuth(ctx context.Context, repo *gitops.Repository, remote string) (transport.AuthMethod, error) {
	if token := os.Getenv(TokenEnv); token != "" {
		user := os.Getenv(UsernameEnv)
		if user == "" {
			user = "git"
		}
		return &http.BasicAuth{Username: user, Password: token}, nil
	}
	url, err := repo.RemoteURL(remote)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, nil
	}
	if user, pass, ok := credentialFill(ctx, repo.Root(), url); ok {
		return &http.BasicAuth{Username: user, Password: pass}, nil
	}
	return nil, nil
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
// gitAuth finds.
func push(ctx context.Context, repo *gitops.Repository, remote string) error {
	auth, err := gitAuth(ctx, repo, remote)
	if err != nil {
		return err
	}
	return repo.Push(ctx, gitops.PushOptions{RemoteName: remote, Auth: auth})
}
