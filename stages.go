package edgesec

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/stage"
)

// ExtraStageDropped is the ExtraDetails key of the DroppedEventsStatistics
// Low item that counts the events the processing stages dropped since the
// previous report; ExtraStageDroppedPrefix+name counts one stage's.
const (
	ExtraStageDropped       = "StageDroppedEvents"
	ExtraStageDroppedPrefix = "StageDroppedEvents."
)

// chain runs events through the processing stages. One mutex serialises
// every Process call, so no stage is ever called concurrently.
type chain struct {
	e       *Engine
	stages  []stage.Stage
	mu      sync.Mutex
	levels  []level // per stage, guarded by mu: reused so that the event path does not allocate
	dropped []atomic.Int64
	last    []int64 // guarded by the engine's mu (read when statistics are built)
	errs    []atomic.Int64
}

// level is the scratch space of one stage: the event being processed (its
// address is handed to Process) and the events Process added.
type level struct {
	ev    event.Event
	added []event.Event
	emit  stage.Emit
}

func newChain(e *Engine, stages []stage.Stage) *chain {
	c := &chain{e: e, stages: stages, levels: make([]level, len(stages)), dropped: make([]atomic.Int64, len(stages)),
		last: make([]int64, len(stages)), errs: make([]atomic.Int64, len(stages))}
	for i := range c.levels {
		l := &c.levels[i]
		l.emit = func(x event.Event) { l.added = append(l.added, x) }
	}
	return c
}

// bypass reports whether ev skips the stages: the engine's Operational and
// Diagnostic events do unless Options.StageEngineEvents is set.
func (c *chain) bypass(ev *event.Event) bool {
	return !c.e.opts.StageEngineEvents && (ev.Type == event.Operational || ev.Type == event.Diagnostic)
}

// process runs evs through the stages from index from on and returns what
// comes out of the last one.
func (c *chain) process(ctx context.Context, from int, evs []event.Event) []event.Event {
	if from >= len(c.stages) {
		return evs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]event.Event, 0, len(evs))
	for _, ev := range evs {
		if c.bypass(&ev) {
			out = append(out, ev)
			continue
		}
		out = c.run(ctx, from, ev, out)
	}
	return out
}

// run passes ev through stage i and the following ones, appending what
// leaves the last stage to out. Callers hold c.mu.
func (c *chain) run(ctx context.Context, i int, ev event.Event, out []event.Event) []event.Event {
	if i >= len(c.stages) {
		return append(out, ev)
	}
	// Process gets the address of the level's scratch event; the deeper
	// levels have their own, so recursion does not overwrite it.
	l := &c.levels[i]
	l.ev = ev
	l.added = l.added[:0]
	err := c.stages[i].Process(ctx, &l.ev, l.emit)
	ev = l.ev
	l.ev = event.Event{}
	n := len(l.added)
	switch {
	case err == nil:
		out = c.run(ctx, i+1, ev, out)
	case errors.Is(err, stage.ErrDrop):
		c.dropped[i].Add(1)
	default:
		// A broken stage must not lose events: pass ev on as it is and say
		// so (rate-limited by counting: the first error and every 1000th).
		if n := c.errs[i].Add(1); n == 1 || n%1000 == 0 {
			c.e.log.Warn("stage failed; event passed on", "stage", c.stages[i].Name(), "err", err, "failures", n)
		}
		out = c.run(ctx, i+1, ev, out)
	}
	// The added events stay in l.added while the later stages run: those
	// use their own levels, and this level is not entered again until the
	// loop ends.
	for k := 0; k < n; k++ {
		out = c.run(ctx, i+1, l.added[k], out)
	}
	clear(l.added[:n])
	l.added = l.added[:0]
	return out
}

// droppedDelta returns the drops since the previous call, in total and per
// stage, as ExtraDetails entries. Callers hold the engine's mu.
func (c *chain) droppedDelta() event.ExtraDetails {
	if len(c.stages) == 0 {
		return nil
	}
	var total int64
	extra := event.ExtraDetails{}
	for i, s := range c.stages {
		n := c.dropped[i].Load()
		d := n - c.last[i]
		c.last[i] = n
		total += d
		if d > 0 {
			extra[ExtraStageDroppedPrefix+s.Name()] = strconv.FormatInt(d, 10)
		}
	}
	extra[ExtraStageDropped] = strconv.FormatInt(total, 10)
	return extra
}

// stageSink is the Sink handed to a stage's Runner: events enter the chain
// after that stage.
type stageSink struct {
	e    *Engine
	next int
}

// Emit implements collector.Sink.
func (s stageSink) Emit(ctx context.Context, evs ...event.Event) error {
	select {
	case <-s.e.stopped:
		return ErrStopped
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.e.addAfter(ctx, s.next, evs...)
	return nil
}

// startRunners starts the Run method of every stage that implements
// stage.Runner and returns a function that stops them and waits.
func (c *chain) startRunners(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, s := range c.stages {
		r, ok := s.(stage.Runner)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx, stageSink{e: c.e, next: i + 1}); err != nil && ctx.Err() == nil {
				c.e.log.Error("stage runner stopped", "stage", s.Name(), "err", err)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

var _ collector.Sink = stageSink{}
