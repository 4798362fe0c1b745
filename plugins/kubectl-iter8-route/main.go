// Command kubectl-iter8_route is the kubectl iter8-route plugin.
package main

import (
	"os"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/route"
)

func main() {
	os.Exit(cli.Execute(route.NewCommand(cli.StdStreams()), os.Args[1:]))
}
