package terminal_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/internal/terminal"
)

func TestTableAlignsAndEscapes(t *testing.T) {
	var b bytes.Buffer
	err := terminal.Table(&b, []string{"name", "status"}, [][]string{
		{"exp-1", "Completed"},
		{"a-much-longer-name", "\x1b[31mFailed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME                 STATUS\n" +
		"exp-1                Completed\n" +
		"a-much-longer-name   ^[[31mFailed\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestColor(t *testing.T) {
	if terminal.ColorEnabled(&bytes.Buffer{}) {
		t.Error("colour enabled for a buffer")
	}
	t.Setenv("NO_COLOR", "")
	if terminal.ColorEnabled(os.Stdout) {
		t.Error("colour enabled with NO_COLOR set")
	}
	if got := (terminal.Colorizer{Enabled: true}).Paint(terminal.Red, "x"); got != "\x1b[31mx\x1b[0m" {
		t.Errorf("Paint = %q", got)
	}
	if got := (terminal.Colorizer{}).Paint(terminal.Red, "x"); got != "x" {
		t.Errorf("Paint disabled = %q", got)
	}
}
