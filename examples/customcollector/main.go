// Command customcollector shows how a vendor embeds the edgesec engine in
// its own IoT Edge module and adds a collector of its own.
//
// The collector here, FileWatch, reports a Triggered "FileIntegrity" event
// whenever one of the files it watches changes (content hash, mode or
// owner) — the kind of thing a PLC gateway vendor wants to know about its
// configuration files. The engine adds the built-in LocalUsers collector,
// aggregation, packing, the twin configuration and the transport.
//
//	go run ./examples/customcollector /etc/passwd /etc/hosts
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/transport/file"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: customcollector FILE…")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	eng := edgesec.New(edgesec.Options{
		AgentVersion: "customcollector/1.0.0",
		Transport:    file.New(os.Stdout),
		Logger:       log,
	})
	eng.AddCollector(users.NewCollector(users.Options{HostRoot: "/"}, eng.SnapshotFrequency))
	eng.AddCollector(&FileWatch{Paths: os.Args[1:]})
	if err := eng.Run(ctx); err != nil {
		log.Error("engine", "err", err)
		os.Exit(1)
	}
}
