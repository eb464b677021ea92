package detect

import (
	"fmt"
	"strconv"

	"github.com/edgesec/edgesec/event"
)

var loginRuleList = []Rule{
	alertRule(RuleSuccessfulLocalLogin, "Successful local login", event.AlertHigh, "ASC",
		"A user logged in to the device.",
		"a Login with Result Success and Operation Login",
		"Check that the login was expected; suppress known service accounts with a suppression.", event.Login),
	alertRule(RuleFailedLocalLogin, "Failed local login", event.AlertMedium, "ASC",
		"A login attempt failed.",
		"a Login with Result Fail (deduplicated per user and source)",
		"Check who tried to log in; repeated failures become a brute force alert.", event.Login),
	alertRule(RuleFailedBruteforce, "Failed Bruteforce attempt", event.AlertLow, "ASC",
		"Many unsuccessful login attempts from one source.",
		"5 failed Logins from one remote address (or for one user, for local logins) within 10 minutes",
		"Block the source address; disable password authentication where keys can be used.", event.Login),
	alertRule(RuleSuccessfulBruteforce, "Successful Bruteforce attempt", event.AlertHigh, "ASC",
		"A login succeeded from a source that had just failed many times: the password was probably guessed.",
		"a successful Login within 30 minutes of a Failed Bruteforce attempt from the same remote address (or for the same user)",
		"Treat the account as compromised: lock it, change its password, review what the session did.", event.Login),
}

type loginRules struct {
	o     BuiltinOptions
	fails *Window
	brute *Recent // source key → "" for sources that reached the threshold
}

func newLoginRules(o BuiltinOptions, n int) *loginRules {
	return &loginRules{o: o, fails: NewWindow(o.BruteForceWindow, n, o.BruteForceFailures), brute: NewRecent(o.BruteForceSuccessWindow, n)}
}

func (r *loginRules) Rules() []Rule { return loginRuleList }

func (r *loginRules) Analyze(env *Env, ev *event.Event) {
	if ev.Name != event.Login {
		return
	}
	for _, it := range ev.Payload {
		p, ok := it.(*event.LoginPayload)
		if !ok || p.Operation == "Logout" {
			continue
		}
		src := validIP(p.RemoteAddress)
		key := "ip " + src
		who := p.UserName
		if who == "" {
			who = "uid " + p.UserID
		}
		if src == "" {
			key = "user " + who
		}
		from := ""
		if src != "" {
			from = " from " + src
		}
		switch p.Result {
		case event.LoginFail:
			a := loginAlert(p)
			a.Description = fmt.Sprintf("failed login of %s%s (%s)", who, from, orUnknown(p.Executable))
			env.Alert(RuleFailedLocalLogin, who+" "+src, a)
			n := 1
			if rc, err := strconv.Atoi(p.ExtraDetails[keyRepeat]); err == nil && rc > 1 {
				n = min(rc, r.o.BruteForceFailures)
			}
			var count int
			for range n {
				count = r.fails.Add(key, env.Now())
			}
			if count >= r.o.BruteForceFailures {
				a := loginAlert(p)
				a.Description = fmt.Sprintf("%d or more failed logins%s within %s (last: %s)", r.o.BruteForceFailures, orFor(from, who), r.o.BruteForceWindow, who)
				env.Alert(RuleFailedBruteforce, key, a)
				r.brute.Put(key, "", env.Now())
			}
		case event.LoginSuccess:
			a := loginAlert(p)
			a.Description = fmt.Sprintf("%s logged in%s (%s)", who, from, orUnknown(p.Executable))
			env.Alert(RuleSuccessfulLocalLogin, who+" "+src, a)
			if _, ok := r.brute.Get(key, env.Now()); ok {
				a := loginAlert(p)
				a.Description = fmt.Sprintf("%s logged in%s after a brute force attempt", who, from)
				env.Alert(RuleSuccessfulBruteforce, key, a)
				r.fails.Reset(key)
			}
		}
	}
}

func orFor(from, who string) string {
	if from != "" {
		return from
	}
	return " for " + who
}
