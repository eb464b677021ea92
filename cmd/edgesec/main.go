// Command edgesec is the edgesec command-line tool.
//
//	edgesec lint [flags] FILE…|-   analyse IoT Edge deployment manifests
//	edgesec rules [--format text|json]   list the rule catalogue
//	edgesec alerts [--json] FILE|-       show the alerts and recommendations of security messages
//	edgesec alerts --mqtt URL            the same, live from the MQTT broker the module publishes to
//	edgesec version
//
// See "edgesec lint -h" for the lint flags and exit codes. The command
// line is stable: CI pipelines depend on it.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: edgesec <command> [arguments]

commands:
  lint      analyse IoT Edge deployment manifests for security risks
  rules     list the rules of the manifest analysis
  alerts    show the alerts and recommendations of a stream of security messages
  version   print the version

Run "edgesec <command> -h" for the arguments of a command.
`

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "lint":
		return lint(args[1:], stdin, stdout, stderr)
	case "rules":
		return rules(args[1:], stdout, stderr)
	case "alerts":
		return alerts(args[1:], stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "edgesec %s\n", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "edgesec: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
