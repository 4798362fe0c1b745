package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/iter8-tools/iter8/pkg/gitops"
)

// GitTarget is a folder of a branch of a Git repository.
type GitTarget struct {
	// URL of the repository.
	URL string
	// Branch committed to.
	Branch string
	// Path of the folder, relative to the repository's root, with '/'.
	Path string
	// Auth authenticates to the repository; nil for none.
	Auth transport.AuthMethod
	// CABundle holds PEM certificates of authorities trusted, besides the
	// system's, for an https repository.
	CABundle []byte
	// ClientCert and ClientKey, PEM, are presented to an https repository
	// that asks for a client certificate (mutual TLS).
	ClientCert, ClientKey []byte
}

// gitAttempts bounds how often Write renders anew on a branch that another
// writer changed under it.
const gitAttempts = 5

// GitWriter commits rendered kustomize folders to Git repositories and
// pushes them. It keeps a clone per repository and branch under Dir and
// serialises the writes to each; writes to different repositories run in
// parallel.
type GitWriter struct {
	// Dir holds the clones.
	Dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewGitWriter returns a GitWriter keeping its clones under dir.
func NewGitWriter(dir string) *GitWriter {
	return &GitWriter{Dir: dir, locks: map[string]*sync.Mutex{}}
}

// author signs the controller's commits.
func author() *object.Signature {
	return &object.Signature{Name: ControllerName, Email: "iter8@iter8.tools", When: time.Now()}
}

// Write makes the folder t.Path of the branch hold exactly objs (see
// gitops.WriteDir) and pushes the commit, never forcing. It starts from
// the remote branch as it is; when another writer pushed in the meantime,
// the commit is replayed on theirs, or, when they changed the same files,
// the folder is written anew on top of their commit. It returns the commit
// that last changed the folder: the new one, or, when the folder already
// held objs, the one before.
func (w *GitWriter) Write(ctx context.Context, t GitTarget, objs []*unstructured.Unstructured, message string) (plumbing.Hash, error) {
	unlock := w.lock(t)
	defer unlock()
	dir, repo, err := w.open(ctx, t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	folder := filepath.Join(dir, filepath.FromSlash(t.Path))
	for attempt := 1; ; attempt++ {
		if err := syncClone(ctx, repo, t); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := gitops.WriteDir(folder, objs); err != nil {
			return plumbing.ZeroHash, err
		}
		wr, err := gitops.OpenRepository(dir)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := wr.Commit(ctx, gitops.CommitOptions{Paths: []string{folder}, Message: message, Author: author()})
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			return lastChange(repo, t.Path)
		}
		err = wr.Push(ctx, gitops.PushOptions{Auth: t.Auth, CABundle: t.CABundle, ClientCert: t.ClientCert, ClientKey: t.ClientKey})
		if err == nil {
			head, err := repo.Head()
			if err != nil {
				return plumbing.ZeroHash, err
			}
			return head.Hash(), nil
		}
		if !errors.Is(err, gitops.ErrConflict) || attempt == gitAttempts {
			return plumbing.ZeroHash, err
		}
	}
}

// Contains reports whether commit is applied, an ancestor of it or itself
// (a Flux revision holds every commit before it).
func (w *GitWriter) Contains(ctx context.Context, t GitTarget, commit, applied plumbing.Hash) (bool, error) {
	if commit == applied {
		return true, nil
	}
	unlock := w.lock(t)
	defer unlock()
	_, repo, err := w.open(ctx, t)
	if err != nil {
		return false, err
	}
	a, err := repo.CommitObject(applied)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if err := fetch(ctx, repo, t); err != nil {
			return false, err
		}
		a, err = repo.CommitObject(applied)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil // not on the branch (yet)
	}
	if err != nil {
		return false, err
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		return false, err
	}
	return c.IsAncestor(a)
}

// lock serialises the use of one clone.
func (w *GitWriter) lock(t GitTarget) func() {
	w.mu.Lock()
	if w.locks == nil {
		w.locks = map[string]*sync.Mutex{}
	}
	k := cloneKey(t)
	l, ok := w.locks[k]
	if !ok {
		l = &sync.Mutex{}
		w.locks[k] = l
	}
	w.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func cloneKey(t GitTarget) string {
	h := sha256.Sum256([]byte(t.URL + "\x00" + t.Branch))
	return hex.EncodeToString(h[:12])
}

// open opens the clone of the target, cloning the branch first if needed.
func (w *GitWriter) open(ctx context.Context, t GitTarget) (string, *git.Repository, error) {
	dir := filepath.Join(w.Dir, cloneKey(t))
	repo, err := git.PlainOpen(dir)
	if err == nil {
		return dir, repo, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return "", nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	repo, err = git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL: t.URL, Auth: t.Auth, CABundle: t.CABundle, ClientCert: t.ClientCert, ClientKey: t.ClientKey, ReferenceName: plumbing.NewBranchReferenceName(t.Branch), SingleBranch: true,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("cloning branch %s: %w", t.Branch, err)
	}
	return dir, repo, nil
}

// fetch updates the remote-tracking branch.
func fetch(ctx context.Context, repo *git.Repository, t GitTarget) error {
	spec := config.RefSpec("+" + plumbing.NewBranchReferenceName(t.Branch).String() + ":" + plumbing.NewRemoteReferenceName(git.DefaultRemoteName, t.Branch).String())
	err := repo.FetchContext(ctx, &git.FetchOptions{RemoteName: git.DefaultRemoteName, RefSpecs: []config.RefSpec{spec}, Auth: t.Auth, CABundle: t.CABundle, ClientCert: t.ClientCert, ClientKey: t.ClientKey, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetching branch %s: %w", t.Branch, err)
	}
	return nil
}

// syncClone makes the local branch, index and working tree those of the remote
// branch: the clone holds nothing of its own between writes.
func syncClone(ctx context.Context, repo *git.Repository, t GitTarget) error {
	if err := fetch(ctx, repo, t); err != nil {
		return err
	}
	remote, err := repo.Reference(plumbing.NewRemoteReferenceName(git.DefaultRemoteName, t.Branch), true)
	if err != nil {
		return fmt.Errorf("branch %s: %w", t.Branch, err)
	}
	branch := plumbing.NewBranchReferenceName(t.Branch)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(branch, remote.Hash())); err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: remote.Hash(), Mode: git.HardReset}); err != nil {
		return err
	}
	return wt.Clean(&git.CleanOptions{Dir: true})
}

// lastChange is the newest commit of HEAD that changed the folder path.
func lastChange(repo *git.Repository, path string) (plumbing.Hash, error) {
	head, err := repo.Head()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	iter, err := repo.Log(&git.LogOptions{From: head.Hash(), PathFilter: func(p string) bool {
		return p == path || strings.HasPrefix(p, path+"/")
	}})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer iter.Close()
	c, err := iter.Next()
	if errors.Is(err, io.EOF) {
		return head.Hash(), nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.Hash, nil
}
