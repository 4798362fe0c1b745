package testenv

import (
	"context"
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
func Main(m *testing.M, env **Env) int {
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
