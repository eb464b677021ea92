// Command securitymodule is edgesec's reference security module for Azure
// IoT Edge: it collects security events from the host (and, as collectors
// are added, from its containers), packs them into ASC security messages and
// sends them to its output, configured by the module twin object
// ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration or a local file
// in the same shape.
//
// Run it on a machine (no IoT Edge needed) and it prints one message
// envelope per line on stdout, logs on stderr:
//
//	go run ./examples/securitymodule
//
// See --help for the flags; every flag has an environment variable
// equivalent (EDGESEC_CONFIG, EDGESEC_STATE_DIR, EDGESEC_OUTPUT,
// EDGESEC_HOST_ROOT, EDGESEC_LOG_LEVEL).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/file"
	"github.com/edgesec/edgesec/twinconfig"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

//go:embed default-config.json
var defaultConfig []byte

const usage = `securitymodule — edgesec reference security module for Azure IoT Edge

Usage:
  securitymodule [flags]

Collects security events from this host, aggregates them and packs them into
ASC security messages (schema 1.0). With no flags it runs on its embedded
default configuration and prints one message per line on stdout; logs go to
stderr. SIGINT or SIGTERM flush what is queued (aggregations included) and
exit 0.

Flags:
  --config FILE      configuration in the module twin's JSON: a full twin
                     document (properties.desired.<object>), {"<object>": {…}},
                     or the bare {key: {"value": …}} map. Watched for changes;
                     a bad file keeps the last good configuration.
                     Default: the embedded default.            [EDGESEC_CONFIG]
  --state-dir DIR    where the agent id, the message spool and the reported
                     configuration are kept
                     (default: $XDG_STATE_HOME/edgesec or ~/.local/state/edgesec,
                     /var/lib/edgesec as root)                 [EDGESEC_STATE_DIR]
  --output OUT       "stdout" or a file path (JSON lines, fsync'd). Default:
                     chosen from the environment — IoT Edge (IOTEDGE_*
                     variables: edgeHub with workload API tokens),
                     EdgeHubConnectionString (+ EdgeModuleCACertificateFile)
                     or IotHubConnectionString, --mqtt; otherwise stdout.
                                                               [EDGESEC_OUTPUT]
  --mqtt URL         send to an MQTT 3.1.1 broker: tcp://, ssl:// or mqtts://
                     host:port, with optional ?ca=&cert=&key=&topic=&client_id=
                     (user:password in the URL or EDGESEC_MQTT_USERNAME and
                     EDGESEC_MQTT_PASSWORD)                    [EDGESEC_MQTT_URL]
  --host-root DIR    where the host's filesystem is: "/" on the host, "/host"
                     inside a container (default /)            [EDGESEC_HOST_ROOT]
  --log-level LEVEL  debug, info, warn or error (default info) [EDGESEC_LOG_LEVEL]
  --once             run every periodic collector once, send, and exit:
                     a one-shot security snapshot of the host
  --version          print the version and exit
  --help             print this help and exit
`

type options struct {
	config, stateDir, output, hostRoot, logLevel, mqtt string
	once, version                                      bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{
		config:   os.Getenv("EDGESEC_CONFIG"),
		stateDir: os.Getenv("EDGESEC_STATE_DIR"),
		output:   os.Getenv("EDGESEC_OUTPUT"),
		hostRoot: envOr("EDGESEC_HOST_ROOT", "/"),
		logLevel: envOr("EDGESEC_LOG_LEVEL", "info"),
		mqtt:     os.Getenv("EDGESEC_MQTT_URL"),
	}
	fs := flag.NewFlagSet("securitymodule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&o.config, "config", o.config, "")
	fs.StringVar(&o.stateDir, "state-dir", o.stateDir, "")
	fs.StringVar(&o.output, "output", o.output, "")
	fs.StringVar(&o.hostRoot, "host-root", o.hostRoot, "")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "")
	fs.StringVar(&o.mqtt, "mqtt", o.mqtt, "")
	fs.BoolVar(&o.once, "once", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.stateDir == "" {
		o.stateDir = defaultStateDir()
	}
	return o, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/edgesec"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "edgesec")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "edgesec")
	}
	return filepath.Join(os.TempDir(), "edgesec")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "securitymodule: %v\n\n%s", err, usage)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "securitymodule %s\n", version)
		return 0
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "securitymodule: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The transport: --output when given; otherwise chosen from the
	// environment as the Azure SDKs do (IoT Edge, connection strings, an
	// MQTT URL), and stdout when nothing is configured.
	var out transport.Transport
	var twin []edgesec.ConfigSource
	switch o.output {
	case "":
		t, srcs, err := selectTransport(ctx, o, version, log)
		if err != nil {
			log.Error("cannot set up the transport", "err", err)
			return 1
		}
		out, twin = t, srcs
		if out == nil {
			out = file.New(stdout)
		}
	case "stdout", "-":
		out = file.New(stdout)
	default:
		f, err := file.Open(o.output)
		if err != nil {
			log.Error("cannot open output", "err", err)
			return 1
		}
		out = f
	}

	cfg, problems, err := twinconfig.Decode(defaultConfig)
	if err != nil || len(problems) > 0 {
		log.Error("embedded default configuration is invalid", "err", err, "problems", problems)
		return 1
	}
	if o.once && o.config != "" {
		// A one-shot run reads the file once instead of watching it.
		doc, err := os.ReadFile(o.config)
		if err != nil {
			log.Error("cannot read configuration", "err", err)
			return 1
		}
		var evs []event.Event
		cfg, _, evs = twinconfig.NewManager(cfg).Apply(doc, time.Now())
		for _, ev := range evs {
			for _, it := range ev.Payload {
				log.Warn("configuration problem", "problem", string(it.AppendJSON(nil)))
			}
		}
	}
	opts := edgesec.Options{
		AgentVersion: version,
		StateDir:     o.stateDir,
		Transport:    out,
		SpoolPath:    filepath.Join(o.stateDir, "spool.db"),
		Config:       &cfg,
		Logger:       log,
	}
	if o.config != "" && !o.once {
		opts.ConfigSources = append(opts.ConfigSources, &twinconfig.FileSource{Path: o.config, Logger: log})
	}
	opts.ConfigSources = append(opts.ConfigSources, twin...)
	eng := edgesec.New(opts)
	closeEngines := addCollectors(eng, o)
	defer closeEngines()

	log.Info("securitymodule starting", "version", version, "host_root", o.hostRoot, "state_dir", o.stateDir, "output", o.output, "config", o.config, "once", o.once)
	if o.once {
		if err := eng.Once(ctx); err != nil {
			log.Error("snapshot failed", "err", err)
			return 1
		}
		return 0
	}
	if err := eng.Run(ctx); err != nil {
		log.Error("securitymodule stopped", "err", err)
		return 1
	}
	log.Info("securitymodule stopped", "agent_id", eng.AgentID())
	return 0
}
