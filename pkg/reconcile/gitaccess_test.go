package reconcile

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/iter8-tools/iter8/internal/testpki"
)

func TestGitAccessOf(t *testing.T) {
	const secret = "ns/git"
	ca, err := testpki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, _, err := ca.Client("a")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.Client("b")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		data map[string]string
		want string // error, or the auth's name
	}{
		{"https://g/x", map[string]string{"password": "p"}, "http-basic-auth"},
		{"https://g/x", map[string]string{"bearerToken": "t"}, "http-token-auth"},
		{"https://g/x", map[string]string{"password": "p", "bearerToken": "t"}, "the Secret ns/git holds both password and bearerToken: use one"},
		{"https://g/x", map[string]string{"username": "u"}, "the Secret ns/git has none of password, bearerToken, ca.crt or tls.crt"},
		{"https://g/x", map[string]string{"tls.crt": "c"}, "the Secret ns/git holds only one of tls.crt and tls.key: a client certificate needs both"},
		{"https://g/x", map[string]string{"tls.crt": "c", "tls.key": "k"}, "the Secret ns/git: tls.crt and tls.key: tls: failed to find any PEM data in certificate input"},
		{"https://g/x", map[string]string{"tls.crt": string(clientCert), "tls.key": string(otherKey)}, "the Secret ns/git: tls.crt and tls.key: tls: private key does not match public key"},
		{"http://g/x", map[string]string{"tls.crt": "c", "tls.key": "k"}, "the Secret ns/git holds a client certificate (tls.crt, tls.key), which is for https:// URLs; http://g/x is http"},
		{"https://g/x", map[string]string{"ca.crt": "not PEM", "password": "p"}, "the Secret ns/git: ca.crt holds no PEM certificate"},
		{"http://g/x", map[string]string{"ca.crt": "x"}, "the Secret ns/git holds a CA (ca.crt), which is for https:// URLs; http://g/x is http"},
		{"https://g/x", map[string]string{"identity": "k"}, "the Secret ns/git holds identity, which is for ssh:// URLs; https://g/x is https"},
		{"ssh://git@g/x", map[string]string{"known_hosts": "g ssh-ed25519 AAAA"}, "the Secret ns/git has no key identity"},
		{"ssh://git@g/x", map[string]string{"identity": "k"}, "the Secret ns/git has no key known_hosts"},
		{"ssh://git@g/x", map[string]string{"identity": "not a key", "known_hosts": "g ssh-ed25519 AAAA"}, "the Secret ns/git: identity: "},
	} {
		data := map[string][]byte{}
		for k, v := range tc.data {
			data[k] = []byte(v)
		}
		a, err := gitAccessOf(tc.url, secret, data)
		got := ""
		switch {
		case err != nil:
			got = err.Error()
		case a.auth != nil:
			got = a.auth.Name()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s %v: %q, want %q", tc.url, tc.data, got, tc.want)
		}
		if b, ok := a.auth.(*http.BasicAuth); ok && b.Username != "git" {
			t.Errorf("basic auth without username: user %q, want git", b.Username)
		}
	}
}
