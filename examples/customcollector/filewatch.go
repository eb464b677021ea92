package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// FileIntegrity is the name of the custom event FileWatch emits. Custom
// names get the priority Low unless the configuration says otherwise.
const FileIntegrity = "FileIntegrity"

// FileWatch is a triggered collector: it fingerprints files every
// Interval and emits a FileIntegrity event for each file that was created,
// changed or removed since the previous look.
type FileWatch struct {
	Paths    []string
	Interval time.Duration // default 2s
	// MaxBytes bounds how much of each file is hashed (default 16 MiB).
	MaxBytes int64
}

// Name implements collector.Collector.
func (w *FileWatch) Name() string { return FileIntegrity }

type fingerprint struct {
	exists     bool
	sum        string
	mode       fs.FileMode
	uid, gid   uint32
	size       int64
	hashFailed string
}

func (w *FileWatch) look(path string) fingerprint {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fingerprint{}
	}
	if err != nil {
		return fingerprint{exists: true, hashFailed: err.Error()}
	}
	defer f.Close()
	fp := fingerprint{exists: true}
	if st, err := f.Stat(); err == nil {
		fp.mode, fp.size = st.Mode(), st.Size()
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			fp.uid, fp.gid = s.Uid, s.Gid
		}
	}
	limit := w.MaxBytes
	if limit <= 0 {
		limit = 16 << 20
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, limit)); err != nil {
		fp.hashFailed = err.Error()
	}
	fp.sum = hex.EncodeToString(h.Sum(nil))
	return fp
}

// Run implements collector.Collector.
func (w *FileWatch) Run(ctx context.Context, sink collector.Sink) error {
	d := w.Interval
	if d <= 0 {
		d = 2 * time.Second
	}
	last := make(map[string]fingerprint, len(w.Paths))
	for _, p := range w.Paths {
		last[p] = w.look(p)
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var items []event.Item
		for _, p := range w.Paths {
			now := w.look(p)
			if change := describe(last[p], now); change != "" {
				items = append(items, event.Object{
					"Path":   p,
					"Change": change,
					"Sha256": now.sum,
					"Mode":   now.mode.String(),
					"Owner":  strconv.FormatUint(uint64(now.uid), 10) + ":" + strconv.FormatUint(uint64(now.gid), 10),
				})
			}
			if now.hashFailed != "" {
				collector.ReportError(ctx, sink, w.Name(), fmt.Errorf("%s: %s", p, now.hashFailed))
			}
			last[p] = now
		}
		if len(items) == 0 {
			continue
		}
		ev := event.NewCustom(FileIntegrity, event.Triggered, event.Security, time.Now(), items...)
		if err := sink.Emit(ctx, ev); err != nil && ctx.Err() != nil {
			return nil
		}
	}
}

func describe(before, after fingerprint) string {
	switch {
	case !before.exists && after.exists:
		return "created"
	case before.exists && !after.exists:
		return "removed"
	case !after.exists:
		return ""
	case before.sum != after.sum || before.size != after.size:
		return "content"
	case before.mode != after.mode:
		return "mode"
	case before.uid != after.uid || before.gid != after.gid:
		return "owner"
	}
	return ""
}
