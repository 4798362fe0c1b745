package routes_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/iter8-tools/iter8/internal/testenv"
)

// env is the real control plane of the tests.
var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, &env))
}

func user(i int) string { return "user-" + strconv.Itoa(i) }
