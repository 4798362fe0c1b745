package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrConflict is returned by Push when the remote branch changed a file
// that a local commit changes too, so the commit cannot be replayed on it.
var ErrConflict = errors.New("the remote branch changed the same files")

// defaultAuthor signs commits when neither CommitOptions nor the Git
// configuration name an author.
var defaultAuthor = object.Signature{Name: "iter8", Email: "iter8@iter8.tools"}

// Repository is a Git working tree that iter8 commits generated files to
// and pushes from. It commits only the paths it is given, whatever else is
// staged or changed in the working tree, and never force-pushes.
type Repository struct {
	repo *git.Repository
	wt   *git.Worktree
	root string
}

// OpenRepository opens the Git repository whose working tree holds path
// (which need not exist yet).
func OpenRepository(path string) (*Repository, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir := abs
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening the Git repository of %s: %w", path, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("opening the Git repository of %s: %w", path, err)
	}
	return &Repository{repo: repo, wt: wt, root: wt.Filesystem.Root()}, nil
}

// Root is the top folder of the working tree.
func (r *Repository) Root() string { return r.root }

// RemoteURL returns the (first) URL of a remote; "" selects origin.
func (r *Repository) RemoteURL(name string) (string, error) {
	if name == "" {
		name = git.DefaultRemoteName
	}
	remote, err := r.repo.Remote(name)
	if err != nil {
		return "", fmt.Errorf("remote %s: %w", name, err)
	}
	return remote.Config().URLs[0], nil
}

// Branch returns the short name of the current branch.
func (r *Repository) Branch() (string, error) {
	b, _, err := r.head()
	return b.Short(), err
}

// CommitOptions are the options of Commit.
type CommitOptions struct {
	// Paths are the files and folders whose changes are committed,
	// relative to the working directory or absolute, inside the working
	// tree. Changes elsewhere are left as they are.
	Paths []string
	// Message is the commit message.
	Message string
	// Author signs the commit. Default: user.name and user.email of the Git
	// configuration, else iter8 <iter8@iter8.tools>.
	Author *object.Signature
}

// Commit commits the working tree's content of opts.Paths (new, changed and
// deleted files; ignored files left out) on top of the current branch, and
// updates the index to match. It returns the new commit, or the zero hash
// when the paths hold what HEAD already has.
func (r *Repository) Commit(ctx context.Context, opts CommitOptions) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}
	if len(opts.Paths) == 0 {
		return plumbing.ZeroHash, errors.New("no paths to commit")
	}
	var prefixes []string
	for _, p := range opts.Paths {
		rel, err := r.relative(p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		prefixes = append(prefixes, rel)
	}
	branch, head, err := r.head()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	status, err := r.wt.Status()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the Git status: %w", err)
	}
	changes := map[string]*fileEntry{}
	stats := map[string]os.FileInfo{}
	for file, st := range status {
		if st.Worktree == git.Unmodified && st.Staging == git.Unmodified || !under(file, prefixes) {
			continue
		}
		e, fi, err := r.worktreeEntry(file)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		changes[file], stats[file] = e, fi
	}

	var base *object.Tree
	var parents []plumbing.Hash
	if head != nil {
		if base, err = head.Tree(); err != nil {
			return plumbing.ZeroHash, err
		}
		parents = []plumbing.Hash{head.Hash}
	}
	tree, err := writeTree(r.repo.Storer, base, changes, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing the Git tree: %w", err)
	}
	if base != nil && tree == base.Hash {
		return plumbing.ZeroHash, nil
	}
	author := opts.Author
	if author == nil {
		author = r.configAuthor()
	}
	commit, err := writeCommit(r.repo.Storer, &object.Commit{
		Author: *author, Committer: *author, Message: opts.Message, TreeHash: tree, ParentHashes: parents,
	})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(branch, commit)); err != nil {
		return plumbing.ZeroHash, err
	}
	return commit, r.stage(changes, stats)
}

// PushOptions are the options of Push.
type PushOptions struct {
	// RemoteName is the remote to push to. Default: origin.
	RemoteName string
	// Auth authenticates to the remote; nil uses what the URL or the SSH
	// agent provide.
	Auth transport.AuthMethod
	// CABundle holds PEM certificates of authorities trusted, besides the
	// system's, for an https remote.
	CABundle []byte
	// ClientCert and ClientKey, PEM, are presented to an https remote that
	// asks for a client certificate (mutual TLS).
	ClientCert, ClientKey []byte
	// Attempts bounds the pushes, with a rebase before each retry. Default: 5.
	Attempts int
}

// Push pushes the current branch to the branch of the same name on the
// remote. When the remote has moved on (a non-fast-forward), it fetches the
// remote branch, replays the local commits on it (a rebase, file by file:
// ErrConflict when the remote changed a file a local commit changes), moves
// the working tree along, and pushes again. It never force-pushes.
func (r *Repository) Push(ctx context.Context, opts PushOptions) error {
	remote := opts.RemoteName
	if remote == "" {
		remote = git.DefaultRemoteName
	}
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	branch, _, err := r.head()
	if err != nil {
		return err
	}
	spec := config.RefSpec(branch.String() + ":" + branch.String())
	tracking := plumbing.NewRemoteReferenceName(remote, branch.Short())
	for attempt := 1; ; attempt++ {
		err := r.repo.PushContext(ctx, &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: opts.Auth, CABundle: opts.CABundle, ClientCert: opts.ClientCert, ClientKey: opts.ClientKey})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		if !nonFastForward(err) {
			return fmt.Errorf("pushing %s to %s: %w", branch.Short(), remote, err)
		}
		if attempt == attempts {
			return fmt.Errorf("pushing %s to %s: the remote branch moved on %d times: %w", branch.Short(), remote, attempts, err)
		}
		fetch := config.RefSpec("+" + branch.String() + ":" + tracking.String())
		err = r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remote, RefSpecs: []config.RefSpec{fetch}, Auth: opts.Auth, CABundle: opts.CABundle, ClientCert: opts.ClientCert, ClientKey: opts.ClientKey})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return fmt.Errorf("fetching %s from %s: %w", branch.Short(), remote, err)
		}
		upstream, err := r.repo.Reference(tracking, true)
		if err != nil {
			return err
		}
		if err := r.rebase(upstream.Hash()); err != nil {
			return fmt.Errorf("rebasing %s on %s: %w", branch.Short(), tracking.Short(), err)
		}
	}
}

// nonFastForward reports whether a push was refused because the remote
// branch is not an ancestor of the local one: go-git finds it before
// pushing, the server when another push got in between.
func nonFastForward(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "fetch first")
}

// rebase replays the commits of the current branch that upstream lacks on
// top of upstream, then moves the branch, index and working tree there.
func (r *Repository) rebase(upstream plumbing.Hash) error {
	_, head, err := r.head()
	if err != nil {
		return err
	}
	if head == nil {
		return errors.New("the branch has no commits")
	}
	onto, err := r.repo.CommitObject(upstream)
	if err != nil {
		return err
	}
	bases, err := head.MergeBase(onto)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		return errors.New("the local and remote branches share no history")
	}
	var ours []*object.Commit
	for c := head; c.Hash != bases[0].Hash; {
		if c.NumParents() != 1 {
			return fmt.Errorf("commit %s is a merge: only linear history is replayed", c.Hash)
		}
		ours = append(ours, c)
		if c, err = c.Parent(0); err != nil {
			return err
		}
	}
	slices.Reverse(ours)
	for _, c := range ours {
		if onto, err = r.replay(c, onto); err != nil {
			return err
		}
	}
	return r.wt.Reset(&git.ResetOptions{Commit: onto.Hash, Mode: git.MergeReset})
}

// replay applies the changes c made to its parent on top of onto.
func (r *Repository) replay(c, onto *object.Commit) (*object.Commit, error) {
	parent, err := c.Parent(0)
	if err != nil {
		return nil, err
	}
	from, err := parent.Tree()
	if err != nil {
		return nil, err
	}
	to, err := c.Tree()
	if err != nil {
		return nil, err
	}
	base, err := onto.Tree()
	if err != nil {
		return nil, err
	}
	diff, err := object.DiffTree(from, to)
	if err != nil {
		return nil, err
	}
	changes := map[string]*fileEntry{}
	for _, ch := range diff {
		for _, side := range []object.ChangeEntry{ch.From, ch.To} {
			if side.Name != "" {
				if _, seen := changes[side.Name]; !seen {
					changes[side.Name] = entryAt(to, side.Name)
				}
			}
		}
	}
	for path, want := range changes {
		now, was := entryAt(base, path), entryAt(from, path)
		if !sameEntry(now, was) && !sameEntry(now, want) {
			return nil, fmt.Errorf("%w: %s (commit %s)", ErrConflict, path, c.Hash.String()[:7])
		}
	}
	tree, err := writeTree(r.repo.Storer, base, changes, true)
	if err != nil {
		return nil, err
	}
	committer := c.Committer
	committer.When = time.Now()
	h, err := writeCommit(r.repo.Storer, &object.Commit{
		Author: c.Author, Committer: committer, Message: c.Message, TreeHash: tree, ParentHashes: []plumbing.Hash{onto.Hash},
	})
	if err != nil {
		return nil, err
	}
	return r.repo.CommitObject(h)
}

// head returns the current branch and its commit (nil on a branch with no
// commits yet).
func (r *Repository) head() (plumbing.ReferenceName, *object.Commit, error) {
	ref, err := r.repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", nil, err
	}
	if ref.Type() != plumbing.SymbolicReference {
		return "", nil, errors.New("HEAD is detached: check out a branch to commit to")
	}
	branch := ref.Target()
	b, err := r.repo.Storer.Reference(branch)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return branch, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	c, err := r.repo.CommitObject(b.Hash())
	return branch, c, err
}

// configAuthor is the author of the Git configuration, or defaultAuthor.
func (r *Repository) configAuthor() *object.Signature {
	sig := defaultAuthor
	if cfg, err := r.repo.ConfigScoped(config.SystemScope); err == nil {
		for _, u := range []struct{ name, email string }{{cfg.User.Name, cfg.User.Email}, {cfg.Author.Name, cfg.Author.Email}} {
			if u.name != "" && u.email != "" {
				sig.Name, sig.Email = u.name, u.email
			}
		}
	}
	sig.When = time.Now()
	return &sig
}

// relative turns p into a slash-separated path inside the working tree.
func (r *Repository) relative(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	// The root may be reached through a symbolic link (e.g. /tmp on macOS).
	root, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		return "", err
	}
	if resolved, err := evalExisting(abs); err == nil {
		abs = resolved
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the Git working tree %s", p, r.root)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

// evalExisting resolves symbolic links in the longest existing prefix of p.
func evalExisting(p string) (string, error) {
	if _, err := os.Lstat(p); err == nil {
		return filepath.EvalSymlinks(p)
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p, nil
	}
	resolved, err := evalExisting(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(resolved, filepath.Base(p)), nil
}

// under reports whether file is one of prefixes or inside one ("" is all).
func under(file string, prefixes []string) bool {
	for _, p := range prefixes {
		if p == "" || file == p || strings.HasPrefix(file, p+"/") {
			return true
		}
	}
	return false
}

// fileEntry is a file in a tree: nil means no file.
type fileEntry struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

func sameEntry(a, b *fileEntry) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// entryAt is the file at path in t, or nil.
func entryAt(t *object.Tree, path string) *fileEntry {
	if t == nil {
		return nil
	}
	e, err := t.FindEntry(path)
	if err != nil || e.Mode == filemode.Dir {
		return nil
	}
	return &fileEntry{hash: e.Hash, mode: e.Mode}
}

// worktreeEntry stores the working tree's file as a blob; nil when the file
// is gone.
func (r *Repository) worktreeEntry(file string) (*fileEntry, os.FileInfo, error) {
	full := filepath.Join(r.root, filepath.FromSlash(file))
	fi, err := os.Lstat(full)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	mode, err := filemode.NewFromOSFileMode(fi.Mode())
	if err != nil {
		return nil, nil, err
	}
	var content []byte
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(full)
		if err != nil {
			return nil, nil, err
		}
		content = []byte(target)
	} else if content, err = os.ReadFile(full); err != nil {
		return nil, nil, err
	}
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(content); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return nil, nil, err
	}
	return &fileEntry{hash: h, mode: mode}, fi, nil
}

// stage records committed files in the index, with their file information
// so that status need not hash them again.
func (r *Repository) stage(changes map[string]*fileEntry, stats map[string]os.FileInfo) error {
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return err
	}
	for path, e := range changes {
		if e == nil {
			if _, err := idx.Remove(path); err != nil && !errors.Is(err, index.ErrEntryNotFound) {
				return err
			}
			continue
		}
		entry, err := idx.Entry(path)
		if errors.Is(err, index.ErrEntryNotFound) {
			entry = idx.Add(path)
		} else if err != nil {
			return err
		}
		fi := stats[path]
		entry.Hash, entry.Mode, entry.ModifiedAt, entry.Size = e.hash, e.mode, fi.ModTime(), uint32(fi.Size())
	}
	return r.repo.Storer.SetIndex(idx)
}

// writeTree stores base with changes applied (paths relative to base) and
// returns its hash; the zero hash when a subtree ends up empty (Git stores
// no empty folders; the root is stored even when empty).
func writeTree(s storer.EncodedObjectStorer, base *object.Tree, changes map[string]*fileEntry, root bool) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if base != nil {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*fileEntry{}
	for p, c := range changes {
		name, rest, inFolder := strings.Cut(p, "/")
		switch {
		case inFolder:
			if sub[name] == nil {
				sub[name] = map[string]*fileEntry{}
			}
			sub[name][rest] = c
		case c == nil:
			delete(entries, name)
		default:
			entries[name] = object.TreeEntry{Name: name, Mode: c.mode, Hash: c.hash}
		}
	}
	for name, ch := range sub {
		var subBase *object.Tree
		if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
			t, err := object.GetTree(s, e.Hash)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			subBase = t
		}
		h, err := writeTree(s, subBase, ch, false)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 && !root {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// Git orders entries by name, a folder's name taken with a trailing '/'.
	gitName := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(t.Entries, func(a, b object.TreeEntry) int { return strings.Compare(gitName(a), gitName(b)) })
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

func writeCommit(s storer.EncodedObjectStorer, c *object.Commit) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}
