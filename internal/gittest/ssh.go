package gittest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves a Server's repositories over SSH, through the real
// git-upload-pack and git-receive-pack.
type SSHServer struct {
	// URL is ssh://git@127.0.0.1:PORT; a repository's URL is URL + "/" +
	// name.
	URL string
	// KnownHosts is the known_hosts line of the server's host key.
	KnownHosts string
}

// ServeSSH serves s's repositories over SSH on a free loopback port until
// the test ends, to clients that authenticate with the key authorized
// (any user name).
func (s *Server) ServeSSH(t testing.TB, authorized ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown public key")
	}}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
	env := isolatedEnv(t)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serveSSHConn(c, cfg, env) })
		}
	})
	addr := l.Addr().String()
	return &SSHServer{URL: "ssh://git@" + addr, KnownHosts: knownhosts.Line([]string{knownhosts.Normalize(addr)}, signer.PublicKey())}
}

// serveSSHConn serves one connection's sessions: each may exec
// git-upload-pack or git-receive-pack on a repository under Root.
func (s *Server) serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, env []string) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.serveSession(ch, reqs, env)
	}
}

func (s *Server) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, env []string) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			// GIT_PROTOCOL, which the packs read.
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if ssh.Unmarshal(req.Payload, &cmd) != nil {
				_ = req.Reply(false, nil)
				return
			}
			prog, repo, _ := strings.Cut(cmd.Command, " ")
			repo = strings.Trim(repo, "'\"")
			path := filepath.Join(s.Root, filepath.FromSlash(repo))
			if (prog != "git-upload-pack" && prog != "git-receive-pack") || !strings.HasPrefix(path, s.Root+string(filepath.Separator)) {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			x := exec.Command(prog, path)
			x.Env, x.Stdin, x.Stdout, x.Stderr = env, ch, ch, ch.Stderr()
			code := 0
			if err := x.Run(); err != nil {
				code = 1
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					code = exit.ExitCode()
				}
			}
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}
