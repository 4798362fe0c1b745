// Command kubectl-iter8_abn is the kubectl iter8-abn plugin.
package main

import (
	"os"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/abn"
)

func main() {
	os.Exit(cli.Execute(abn.NewCommand(cli.StdStreams()), os.Args[1:]))
}
