package gitops_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/pkg/gitops"
)

// isolate keeps the user's Git configuration away from go-git.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestCommitOnlyTheGivenPaths(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	gittest.WriteFile(t, filepath.Join(dir, "out", "a.yaml"), "a: 1\n")
	gittest.WriteFile(t, filepath.Join(dir, "out", "sub", "b.yaml"), "b: 1\n")
	gittest.WriteFile(t, filepath.Join(dir, "out", ".gitignore"), "*.tmp\n")
	gittest.WriteFile(t, filepath.Join(dir, "out", "scratch.tmp"), "ignored\n")
	gittest.WriteFile(t, filepath.Join(dir, "staged.txt"), "mine\n")
	gittest.WriteFile(t, filepath.Join(dir, "outside.txt"), "mine too\n")
	gittest.Git(t, dir, "add", "staged.txt")

	repo, err := gitops.OpenRepository(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	author := &object.Signature{Name: "Ann", Email: "ann@example.com"}
	h, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{filepath.Join(dir, "out")}, Message: "first", Author: author})
	if err != nil || h.IsZero() {
		t.Fatalf("Commit: %v, %v", h, err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != h.String() {
		t.Errorf("HEAD %s, commit %s", got, h)
	}
	// The real git agrees on the content, the author and the index.
	gittest.Git(t, dir, "fsck", "--strict")
	if diff := cmp.Diff([]string{"A\tout/.gitignore", "A\tout/a.yaml", "A\tout/sub/b.yaml"},
		lines(gittest.Git(t, dir, "show", "--format=", "--name-status", "HEAD"))); diff != "" {
		t.Errorf("first commit (-want +got):\n%s", diff)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%an <%ae> %s"); got != "Ann <ann@example.com> first" {
		t.Errorf("log: %s", got)
	}
	if diff := cmp.Diff([]string{"A  staged.txt", "?? outside.txt"}, lines(gittest.Git(t, dir, "status", "--porcelain"))); diff != "" {
		t.Errorf("status after the first commit (-want +got):\n%s", diff)
	}

	// Nothing changed: no commit.
	h2, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{filepath.Join(dir, "out")}, Message: "again", Author: author})
	if err != nil || !h2.IsZero() {
		t.Errorf("Commit without changes: %v, %v", h2, err)
	}

	// A change and a deletion, with the author from the Git configuration.
	gittest.Git(t, dir, "config", "user.name", "Bob")
	gittest.Git(t, dir, "config", "user.email", "bob@example.com")
	gittest.WriteFile(t, filepath.Join(dir, "out", "a.yaml"), "a: 2\n")
	if err := os.RemoveAll(filepath.Join(dir, "out", "sub")); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{filepath.Join(dir, "out")}, Message: "second"}); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "fsck", "--strict")
	if diff := cmp.Diff([]string{"M\tout/a.yaml", "D\tout/sub/b.yaml"}, lines(gittest.Git(t, dir, "show", "--format=", "--name-status", "HEAD"))); diff != "" {
		t.Errorf("second commit (-want +got):\n%s", diff)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%an <%ae> %s"); got != "Bob <bob@example.com> second" {
		t.Errorf("log: %s", got)
	}
	if diff := cmp.Diff([]string{"A  staged.txt", "?? outside.txt"}, lines(gittest.Git(t, dir, "status", "--porcelain"))); diff != "" {
		t.Errorf("status after the second commit (-want +got):\n%s", diff)
	}
}

func TestCommitErrors(t *testing.T) {
	isolate(t)
	if _, err := gitops.OpenRepository(t.TempDir()); err == nil || !strings.Contains(err.Error(), "repository does not exist") {
		t.Errorf("outside a repository: %v", err)
	}
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	repo, err := gitops.OpenRepository(filepath.Join(dir, "not", "there", "yet"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{t.TempDir()}, Message: "x"}); err == nil || !strings.Contains(err.Error(), "is outside the Git working tree") {
		t.Errorf("path outside: %v", err)
	}
	// The default author signs the first commit of an unborn branch.
	gittest.WriteFile(t, filepath.Join(dir, "f"), "x")
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{dir}, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "log", "--format=%an <%ae>"); got != "iter8 <iter8@iter8.tools>" {
		t.Errorf("author %s", got)
	}
}

// TestPushRebasesWhenTheRemoteMovedOn pushes to a real Git server after
// someone else pushed: the commit is replayed on theirs, never forced.
func TestPushRebasesWhenTheRemoteMovedOn(t *testing.T) {
	isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	url := srv.NewRepository(t, "fleet.git", map[string]string{"README.md": "fleet\n", "apps/checkout/vs.yaml": "weight: 100\n"})
	mine, theirs := gittest.Clone(t, url), gittest.Clone(t, url)

	gittest.WriteFile(t, filepath.Join(theirs, "README.md"), "fleet, by them\n")
	gittest.Git(t, theirs, "commit", "--quiet", "-am", "theirs")
	gittest.Git(t, theirs, "push", "--quiet")

	repo, err := gitops.OpenRepository(mine)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(mine, "apps", "checkout", "vs.yaml"), "weight: 80\n")
	gittest.WriteFile(t, filepath.Join(mine, "notes.txt"), "untracked, kept\n")
	dir := filepath.Join(mine, "apps", "checkout")
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{dir}, Message: "mine"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(t.Context(), gitops.PushOptions{}); err != nil {
		t.Fatal(err)
	}

	bare := filepath.Join(srv.Root, "fleet.git")
	if diff := cmp.Diff([]string{"mine", "theirs", "initial"}, lines(gittest.Git(t, bare, "log", "--format=%s", "main"))); diff != "" {
		t.Errorf("remote history (-want +got):\n%s", diff)
	}
	if got := gittest.Git(t, bare, "show", "main:apps/checkout/vs.yaml"); got != "weight: 80" {
		t.Errorf("remote vs.yaml: %q", got)
	}
	// The working tree moved along: their change is here, nothing is dirty.
	if b, _ := os.ReadFile(filepath.Join(mine, "README.md")); string(b) != "fleet, by them\n" {
		t.Errorf("README.md in the working tree: %q", b)
	}
	if diff := cmp.Diff([]string{"?? notes.txt"}, lines(gittest.Git(t, mine, "status", "--porcelain"))); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	// Pushing again has nothing to do.
	if err := repo.Push(t.Context(), gitops.PushOptions{}); err != nil {
		t.Errorf("second push: %v", err)
	}
}

func TestPushConflictLeavesTheRemoteAlone(t *testing.T) {
	isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	url := srv.NewRepository(t, "fleet.git", map[string]string{"apps/checkout/vs.yaml": "weight: 100\n"})
	mine, theirs := gittest.Clone(t, url), gittest.Clone(t, url)
	gittest.WriteFile(t, filepath.Join(theirs, "apps", "checkout", "vs.yaml"), "weight: 50\n")
	gittest.Git(t, theirs, "commit", "--quiet", "-am", "theirs")
	gittest.Git(t, theirs, "push", "--quiet")
	want := gittest.Git(t, theirs, "rev-parse", "HEAD")

	repo, err := gitops.OpenRepository(mine)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(mine, "apps", "checkout", "vs.yaml"), "weight: 80\n")
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{mine}, Message: "mine"}); err != nil {
		t.Fatal(err)
	}
	err = repo.Push(t.Context(), gitops.PushOptions{})
	if !errors.Is(err, gitops.ErrConflict) || !strings.Contains(err.Error(), "apps/checkout/vs.yaml") {
		t.Fatalf("Push: %v, want a conflict on apps/checkout/vs.yaml", err)
	}
	if got := gittest.Git(t, filepath.Join(srv.Root, "fleet.git"), "rev-parse", "main"); got != want {
		t.Errorf("remote main moved to %s, want %s", got, want)
	}
}

func TestPushGivesUpAfterAttempts(t *testing.T) {
	isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	url := srv.NewRepository(t, "fleet.git", map[string]string{"a": "1\n"})
	mine, theirs := gittest.Clone(t, url), gittest.Clone(t, url)
	gittest.WriteFile(t, filepath.Join(theirs, "b"), "1\n")
	gittest.Git(t, theirs, "add", "b")
	gittest.Git(t, theirs, "commit", "--quiet", "-m", "theirs")
	gittest.Git(t, theirs, "push", "--quiet")

	repo, err := gitops.OpenRepository(mine)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(mine, "a"), "2\n")
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{mine}, Message: "mine"}); err != nil {
		t.Fatal(err)
	}
	err = repo.Push(t.Context(), gitops.PushOptions{Attempts: 1})
	if err == nil || !strings.Contains(err.Error(), "the remote branch moved on 1 times: non-fast-forward update: refs/heads/main") {
		t.Errorf("Push: %v", err)
	}
}

func TestPushAuthenticates(t *testing.T) {
	isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "iter8", Password: "s3cret"})
	// The seed and the clone reach the repository on disk; the push goes
	// over HTTP with the remote set to the server.
	srv.NewRepository(t, "fleet.git", map[string]string{"a": "1\n"})
	mine := gittest.Clone(t, filepath.Join(srv.Root, "fleet.git"))
	gittest.Git(t, mine, "remote", "set-url", "origin", srv.URL+"/fleet.git")

	repo, err := gitops.OpenRepository(mine)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(mine, "a"), "2\n")
	if _, err := repo.Commit(t.Context(), gitops.CommitOptions{Paths: []string{mine}, Message: "mine"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(t.Context(), gitops.PushOptions{}); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("Push without credentials: %v", err)
	}
	if err := repo.Push(t.Context(), gitops.PushOptions{Auth: &http.BasicAuth{Username: "iter8", Password: "wrong"}}); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Push with a wrong password: %v", err)
	}
	if err := repo.Push(t.Context(), gitops.PushOptions{Auth: &http.BasicAuth{Username: "iter8", Password: "s3cret"}}); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, filepath.Join(srv.Root, "fleet.git"), "log", "-1", "--format=%s", "main"); got != "mine" {
		t.Errorf("remote head: %s", got)
	}
}
