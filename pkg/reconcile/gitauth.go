package reconcile

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// gitAccess is how to reach a Git sink: its authentication, the
// certificate authorities it trusts besides the system's, and the client
// certificate and key it presents over TLS.
type gitAccess struct {
	auth                  transport.AuthMethod
	caBundle              []byte
	clientCert, clientKey []byte
}

// gitAccessOf reads the credentials of a Git sink from the data of its
// Secret (named secret in errors), in the format of a Flux GitRepository's
// Secret:
//
//	https://  username (default git) and password, or bearerToken; ca.crt (or caFile);
//	          tls.crt and tls.key, a client certificate and its key (mutual TLS)
//	ssh://    identity (PEM private key), password if it is encrypted, known_hosts
//
// The errors name the Secret's key and what it must hold.
func gitAccessOf(rawURL, secret string, data map[string][]byte) (gitAccess, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return gitAccess{}, fmt.Errorf("spec.sink.git.url: %w", err)
	}
	if u.Scheme == "ssh" {
		return sshAccess(u, secret, data)
	}
	var a gitAccess
	for _, k := range []string{"identity", "known_hosts"} {
		if len(data[k]) > 0 {
			return a, fmt.Errorf("the Secret %s holds %s, which is for ssh:// URLs; %s is %s", secret, k, rawURL, u.Scheme)
		}
	}
	ca := data["ca.crt"]
	if len(ca) == 0 {
		ca = data["caFile"]
	}
	if len(ca) > 0 {
		if u.Scheme != "https" {
			return a, fmt.Errorf("the Secret %s holds a CA (ca.crt), which is for https:// URLs; %s is %s", secret, rawURL, u.Scheme)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			return a, fmt.Errorf("the Secret %s: ca.crt holds no PEM certificate", secret)
		}
		a.caBundle = ca
	}
	cert, key := data["tls.crt"], data["tls.key"]
	switch {
	case len(cert) == 0 && len(key) == 0:
	case u.Scheme != "https":
		return a, fmt.Errorf("the Secret %s holds a client certificate (tls.crt, tls.key), which is for https:// URLs; %s is %s", secret, rawURL, u.Scheme)
	case len(cert) == 0 || len(key) == 0:
		return a, fmt.Errorf("the Secret %s holds only one of tls.crt and tls.key: a client certificate needs both", secret)
	default:
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return a, fmt.Errorf("the Secret %s: tls.crt and tls.key: %w", secret, err)
		}
		a.clientCert, a.clientKey = cert, key
	}
	password, token := data["password"], data["bearerToken"]
	switch {
	case len(password) > 0 && len(token) > 0:
		return a, fmt.Errorf("the Secret %s holds both password and bearerToken: use one", secret)
	case len(token) > 0:
		a.auth = &http.TokenAuth{Token: string(token)}
	case len(password) > 0:
		user := string(data["username"])
		if user == "" {
			user = "git"
		}
		a.auth = &http.BasicAuth{Username: user, Password: string(password)}
	case a.caBundle == nil && a.clientCert == nil:
		return a, fmt.Errorf("the Secret %s has none of password, bearerToken, ca.crt or tls.crt", secret)
	}
	return a, nil
}

// sshAccess authenticates with the Secret's identity, as the URL's user
// (default git), and trusts only the hosts of its known_hosts.
func sshAccess(u *url.URL, secret string, data map[string][]byte) (gitAccess, error) {
	identity, hosts := data["identity"], data["known_hosts"]
	switch {
	case len(identity) == 0:
		return gitAccess{}, fmt.Errorf("the Secret %s has no key identity: an ssh:// URL needs a PEM private key there", secret)
	case len(hosts) == 0:
		return gitAccess{}, fmt.Errorf("the Secret %s has no key known_hosts: an ssh:// URL needs the host's public key there (ssh-keyscan)", secret)
	}
	user := u.User.Username()
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, identity, string(data["password"]))
	if err != nil {
		return gitAccess{}, fmt.Errorf("the Secret %s: identity: %w", secret, err)
	}
	callback, err := knownHostsCallback(hosts)
	if err != nil {
		return gitAccess{}, fmt.Errorf("the Secret %s: known_hosts: %w", secret, err)
	}
	keys.HostKeyCallback = callback
	return gitAccess{auth: keys}, nil
}

// knownHostsCallback checks host keys against the lines of known_hosts
// (knownhosts reads only files: it goes through a temporary one, read at
// once).
func knownHostsCallback(lines []byte) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "known_hosts-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(lines); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return knownhosts.New(f.Name())
}
