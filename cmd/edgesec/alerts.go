package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/edgesec/edgesec/detect"
)

// alerts implements "edgesec alerts [--json] [--width N] FILE|-": it reads
// security messages (as the file transport or an MQTT subscriber wrote
// them) and shows their alerts and recommendations.
func alerts(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "write the rows as JSON (one object per line)")
	width := fs.Int("width", 100, "cut the details column to this many characters (0: no limit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edgesec alerts [--json] [--width N] FILE|-")
		fmt.Fprintln(stderr, "Shows the SecurityAlert and SecurityRecommendation events of a stream of security messages.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "edgesec alerts:", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	rows, err := detect.ReadRows(in)
	code := 0
	if err != nil {
		fmt.Fprintln(stderr, "edgesec alerts:", err)
		code = 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(stderr, "edgesec alerts:", err)
				return 1
			}
		}
		return code
	}
	if err := detect.WriteTable(stdout, rows, *width); err != nil {
		fmt.Fprintln(stderr, "edgesec alerts:", err)
		return 1
	}
	return code
}
