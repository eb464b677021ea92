package detect

import (
	"fmt"
	"strconv"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

var postureRuleList = []Rule{
	recRule(RecUnderutilizedMessages, "Agent sending underutilized messages", event.AlertLow,
		"10% or more of the security messages sent in the last 24 hours were smaller than 4 KB; IoT Hub meters messages in 4 KB units.",
		"the MessageStatistics events of the window: MessagesUnder4KB / MessagesSent >= 10% (needs the engine's Operational events: Options.StageEngineEvents)",
		"Lengthen highPriorityMessageFrequency and lowPriorityMessageFrequency so that messages fill up.", event.MessageStatistics),
	recRule(RecTwinNotOptimal, "Security twin configuration not optimal", event.AlertLow,
		"The security module's twin configuration is not optimal.",
		"a ConfigurationError item with ErrorType NotOptimal (needs Options.StageEngineEvents); the set is replaced by each ConfigurationError event that reports NotOptimal or Conflict problems, and by the NotOptimal problems of every configuration applied (Stage.ApplyConfig), so it resolves once the configuration is fixed",
		"Fix the configuration keys named in the evidence.", event.ConfigurationError),
	recRule(RecTwinConflict, "Security twin configuration conflict", event.AlertLow,
		"Values of the security module's twin configuration contradict each other.",
		"a ConfigurationError item with ErrorType Conflict (needs Options.StageEngineEvents); a conflicting document is refused, so the finding resolves when a new twin version is applied (or, without a twin, any configuration)",
		"Fix the configuration keys named in the evidence.", event.ConfigurationError),
}

type statSample struct {
	at           time.Time
	sent, under4 int64
}

type postureRules struct {
	o       BuiltinOptions
	samples []statSample // bounded ring, oldest first
	// configured and version: whether AnalyzeConfig ran, and the twin
	// version of the configuration it saw last.
	configured bool
	version    int64
}

const maxStatSamples = 4096

func newPostureRules(o BuiltinOptions) *postureRules { return &postureRules{o: o} }

func (r *postureRules) Rules() []Rule { return postureRuleList }

func (r *postureRules) Analyze(env *Env, ev *event.Event) {
	switch ev.Name {
	case event.MessageStatistics:
		for _, it := range ev.Payload {
			p, ok := it.(*event.MessageStatisticsPayload)
			if !ok {
				continue
			}
			if len(r.samples) == maxStatSamples {
				r.samples = append(r.samples[:0], r.samples[1:]...)
			}
			r.samples = append(r.samples, statSample{at: env.Now(), sent: p.MessagesSent, under4: p.MessagesUnder4KB})
		}
		for len(r.samples) > 0 && env.Now().Sub(r.samples[0].at) > r.o.UnderutilizedWindow {
			r.samples = r.samples[1:]
		}
		var sent, under int64
		for _, s := range r.samples {
			sent += s.sent
			under += s.under4
		}
		var fs []Finding
		if sent > 0 && under*10 >= sent {
			fs = []Finding{{Entity: "messages", Evidence: fmt.Sprintf("%d of %d messages (%d%%) sent in the last %s were under 4 KB",
				under, sent, under*100/sent, r.o.UnderutilizedWindow),
				ExtraDetails: event.ExtraDetails{"MessagesSent": strconv.FormatInt(sent, 10), "MessagesUnder4KB": strconv.FormatInt(under, 10)}}}
		}
		env.Recommend(RecUnderutilizedMessages, fs)
	case event.ConfigurationError:
		var notOpt, conflict []Finding
		for _, it := range ev.Payload {
			p, ok := it.(*event.ConfigurationErrorPayload)
			if !ok {
				continue
			}
			f := Finding{Entity: p.ConfigurationName, Evidence: fmt.Sprintf("%s: %s (using %s)", p.ConfigurationName, p.Message, p.UsedConfiguration)}
			switch p.ErrorType {
			case event.NotOptimal:
				notOpt = append(notOpt, f)
			case event.Conflict:
				conflict = append(conflict, f)
			}
		}
		if len(notOpt)+len(conflict) == 0 {
			return
		}
		env.Recommend(RecTwinNotOptimal, notOpt)
		env.Recommend(RecTwinConflict, conflict)
	}
}

// AnalyzeConfig implements ConfigAnalyzer. The NotOptimal findings are
// those of the applied configuration itself. A document in Conflict is
// refused, so the running configuration never has one: the Conflict
// finding resolves when a new twin version is accepted, or, for a device
// configured without a twin (version 0), when any configuration is.
func (r *postureRules) AnalyzeConfig(env *Env, c twinconfig.Config) {
	var notOpt []Finding
	for _, p := range c.Validate() {
		if p.Kind == event.NotOptimal {
			notOpt = append(notOpt, Finding{Entity: p.Key, Evidence: fmt.Sprintf("%s: %s (using %s)", p.Key, p.Message, p.Used)})
		}
	}
	env.Recommend(RecTwinNotOptimal, notOpt)
	if r.configured && (c.Version != r.version || c.Version == 0) {
		env.Recommend(RecTwinConflict, nil)
	}
	r.configured, r.version = true, c.Version
}
