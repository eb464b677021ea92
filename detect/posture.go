package detect

import (
	"fmt"
	"strconv"
	"time"

	"github.com/edgesec/edgesec/event"
)

var postureRuleList = []Rule{
	recRule(RecUnderutilizedMessages, "Agent sending underutilized messages", event.AlertLow,
		"10% or more of the security messages sent in the last 24 hours were smaller than 4 KB; IoT Hub meters messages in 4 KB units.",
		"the MessageStatistics events of the window: MessagesUnder4KB / MessagesSent >= 10% (needs the engine's Operational events: Options.StageEngineEvents)",
		"Lengthen highPriorityMessageFrequency and lowPriorityMessageFrequency so that messages fill up.", event.MessageStatistics),
	recRule(RecTwinNotOptimal, "Security twin configuration not optimal", event.AlertLow,
		"The security module's twin configuration is not optimal.",
		"a ConfigurationError item with ErrorType NotOptimal (needs Options.StageEngineEvents); the set is replaced by each ConfigurationError event that reports NotOptimal or Conflict problems",
		"Fix the configuration keys named in the evidence.", event.ConfigurationError),
	recRule(RecTwinConflict, "Security twin configuration conflict", event.AlertLow,
		"Values of the security module's twin configuration contradict each other.",
		"a ConfigurationError item with ErrorType Conflict (needs Options.StageEngineEvents)",
		"Fix the configuration keys named in the evidence.", event.ConfigurationError),
}

type statSample struct {
	at           time.Time
	sent, under4 int64
}

type postureRules struct {
	o       BuiltinOptions
	samples []statSample // bounded ring, oldest first
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
