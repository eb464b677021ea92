package process

import (
	"context"
	"strconv"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/procfs"
)

// pollKey identifies a process across pid reuse.
type pollKey struct {
	pid   int
	start uint64
}

// runPoll diffs the set of (pid, start time) in /proc every PollInterval.
// The first scan is the baseline and emits nothing.
func (c *Collector) runPoll(ctx context.Context, sink collector.Sink) error {
	e := c.newEnricher(ctx, nil)
	defer e.close()
	known := make(map[pollKey]*procInfo)
	first := true
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		evs := c.pollOnce(e, known, first)
		first = false
		c.emit(ctx, sink, evs)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Collector) pollOnce(e *enricher, known map[pollKey]*procInfo, baseline bool) []event.Event {
	root := c.opts.HostRoot
	pids, err := procfs.ListPIDs(root)
	if err != nil {
		c.opts.Logger.Warn("listing processes", "err", err)
		return nil
	}
	now := time.Now()
	var evs []event.Event
	seen := make(map[pollKey]struct{}, len(pids))
	for _, pid := range pids {
		if pid == c.self {
			continue
		}
		st, err := procfs.ReadStat(root, pid)
		if err != nil {
			continue
		}
		k := pollKey{pid, st.StartTime}
		seen[k] = struct{}{}
		if _, ok := known[k]; ok || len(known) >= c.opts.MaxTracked {
			continue
		}
		p, err := e.rd.Read(pid, procfs.ReadOptions{MaxCmdline: c.opts.MaxCmdline})
		if err != nil || p.StartTime != st.StartTime {
			delete(seen, k)
			continue
		}
		info := e.infoFrom(p)
		known[k] = info
		if baseline || isKernelThreadInfo(p) {
			continue
		}
		item := &event.ProcessCreatePayload{
			Executable: p.Exe, ProcessID: pid, ParentProcessID: p.PPID,
			UserID: strconv.FormatUint(uint64(p.UID), 10), UserName: c.users.Name(p.UID),
			CommandLine: p.Cmdline, ExtraDetails: event.ExtraDetails{KeySource: "poll", KeyComm: p.Comm},
		}
		x := item.ExtraDetails
		if p.EUID != p.UID {
			x[KeyEffectiveUserID] = strconv.FormatUint(uint64(p.EUID), 10)
		}
		if p.CmdlineTruncated {
			x[KeyCommandLineTruncated] = "true"
		}
		if p.ExeDeleted {
			x[KeyExecutableDeleted] = "true"
		}
		if p.Partial {
			x[KeyEnrichment] = "partial"
			c.partial.Add(1)
		}
		e.attribute(x, info)
		c.created.Add(1)
		// The start time is known to the tick; better than the poll time.
		t := now
		if !e.boot.IsZero() {
			t = procfs.StartedAt(e.boot, p.StartTime)
		}
		evs = append(evs, event.Must(event.ProcessCreate, t, item))
	}
	for k, info := range known {
		if _, ok := seen[k]; ok {
			continue
		}
		delete(known, k)
		if baseline {
			continue
		}
		item := &event.ProcessTerminatePayload{Executable: info.exe, ProcessID: k.pid, ExitStatus: -1,
			ExtraDetails: event.ExtraDetails{KeySource: "poll", KeyExitStatusKnown: "false"}}
		if info.comm != "" {
			item.ExtraDetails[KeyComm] = info.comm
		}
		e.attribute(item.ExtraDetails, info)
		c.terminated.Add(1)
		evs = append(evs, event.Must(event.ProcessTerminate, now, item))
	}
	return evs
}

func isKernelThreadInfo(p procfs.Process) bool { return p.PID == 2 || p.PPID == 2 }
