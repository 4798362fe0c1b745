// Command kubectl-iter8_run is the kubectl iter8-run plugin.
package main

import (
	"os"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/run"
)

func main() {
	os.Exit(cli.Execute(run.NewCommand(cli.StdStreams()), os.Args[1:]))
}
