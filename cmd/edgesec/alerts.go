package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgesec/edgesec/detect"
	"github.com/edgesec/edgesec/transport/mqtt"
)

// alerts implements "edgesec alerts [--json] [--width N] FILE|-" and
// "edgesec alerts --mqtt URL [--topic FILTER] [--for D]": it reads security
// messages (as the file transport wrote them, or live from an MQTT broker
// the module publishes to) and shows their alerts and recommendations.
func alerts(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "write the rows as JSON (one object per line)")
	width := fs.Int("width", 100, "cut the details column to this many characters (0: no limit)")
	broker := fs.String("mqtt", "", "subscribe to this MQTT broker (tcp://, mqtts://…, with ?ca=&cert=&key=&client_id= as for the module's --mqtt) and show alerts as they arrive")
	topic := fs.String("topic", "edgesec/+/security/+", "the topic filter to subscribe to (with --mqtt)")
	forDur := fs.Duration("for", 0, "with --mqtt, stop after this long (0: until interrupted)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edgesec alerts [--json] [--width N] FILE|-")
		fmt.Fprintln(stderr, "       edgesec alerts [--json] [--width N] --mqtt URL [--topic FILTER] [--for DURATION]")
		fmt.Fprintln(stderr, "Shows the SecurityAlert and SecurityRecommendation events of a stream of security messages.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *broker != "" {
		if fs.NArg() != 0 {
			fs.Usage()
			return 2
		}
		return alertsMQTT(*broker, *topic, *forDur, *asJSON, *width, stdout, stderr)
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

// alertsMQTT subscribes to the broker and writes one line (or one JSON
// object) per alert and recommendation as messages arrive, until
// interrupted or the duration is over.
func alertsMQTT(broker, topic string, d time.Duration, asJSON bool, width int, stdout, stderr io.Writer) int {
	o, err := mqtt.ParseURL(broker)
	if err != nil {
		fmt.Fprintln(stderr, "edgesec alerts:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	enc := json.NewEncoder(stdout)
	header := false
	handle := func(_ string, payload []byte) {
		rows, err := detect.ReadRows(bytes.NewReader(payload))
		if err != nil {
			fmt.Fprintln(stderr, "edgesec alerts:", err)
		}
		for _, r := range rows {
			if asJSON {
				if err := enc.Encode(r); err != nil {
					fmt.Fprintln(stderr, "edgesec alerts:", err)
				}
				continue
			}
			if !header {
				fmt.Fprintln(stdout, streamLine("TIME (UTC)", "KIND", "SEVERITY", "STATE", "ID", "ENTITY", "DETAILS"))
				header = true
			}
			fmt.Fprintln(stdout, rowLine(r, width))
		}
	}
	if err := mqtt.Subscribe(ctx, o, topic, handle); err != nil {
		fmt.Fprintln(stderr, "edgesec alerts:", err)
		return 1
	}
	return 0
}

func streamLine(cols ...string) string {
	return fmt.Sprintf("%-19s  %-14s  %-8s  %-8s  %-28s  %-24s  %s", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
}

// rowLine is one row of the live view, in the columns of detect.WriteTable.
func rowLine(r detect.Row, width int) string {
	d := r.Details
	if r.Count > 1 {
		d = fmt.Sprintf("(x%d) %s", r.Count, d)
	}
	if width > 0 && len(d) > width {
		d = d[:width-1] + "…"
	}
	kind, state, entity := "alert", r.State, r.Entity
	if r.Kind == detect.KindRecommendation {
		kind = "recommendation"
	}
	if state == "" {
		state = "-"
	}
	if entity == "" {
		entity = "-"
	}
	return streamLine(r.Time.UTC().Format("2006-01-02 15:04:05"), kind, r.Severity, state, r.ID, entity, d)
}
