// Command customcollector shows how a vendor builds its own IoT Edge
// security module on edgesec: the standard collectors (package defaults)
// plus a collector of its own.
//
// The collector here, FileWatch, reports a Triggered "FileIntegrity" event
// whenever one of the files it watches changes (content hash, mode or
// owner) — the kind of thing a PLC gateway vendor wants to know about its
// configuration files. The engine adds aggregation, packing, the twin
// configuration and the transport (stdout here; see transport/iothub for
// IoT Hub).
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
	"github.com/edgesec/edgesec/defaults"
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
	release := defaults.Add(eng, defaults.Options{HostRoot: "/"})
	defer release()
	eng.AddCollector(&FileWatch{Paths: os.Args[1:]})
	if err := eng.Run(ctx); err != nil {
		log.Error("engine", "err", err)
		os.Exit(1)
	}
}
