package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
)

// Main starts one control plane for a test package, stores it in *env, runs
// the tests and stops it. Use it from TestMain:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }
//
// With -short (go test -short, the fast pure tests), nothing is started
// and the package's tests are skipped: they need the control plane. A
// package whose other tests are pure uses MainPure instead.
func Main(m *testing.M, env **Env) int {
	if short() {
		fmt.Fprintln(os.Stderr, "testenv: -short: these tests need the control plane, which -short does not start: skipped")
		return 0
	}
	return run(m, env)
}

// MainPure is Main for a package with pure tests: with -short, they run
// without a control plane (*env stays nil), and the tests that need one
// start with SkipShort.
func MainPure(m *testing.M, env **Env) int {
	if short() {
		return m.Run()
	}
	return run(m, env)
}

// SkipShort skips a test that needs the control plane under -short.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs the control plane")
	}
}

// short parses the test flags (TestMain runs before testing does) and
// reports -short.
func short() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}

func run(m *testing.M, env **Env) int {
	e, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the test control plane: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the test control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
