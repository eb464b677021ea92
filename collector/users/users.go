package users

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/hostfs"
)

// DefaultMaxEventBytes is the default of [Options.MaxEventBytes]: small
// enough that every event fits in the smallest message the configuration
// allows (maxMessageSizeInBytes 8192) with its envelope.
const DefaultMaxEventBytes = 7 << 10

// maxFileBytes bounds how much of one account database is read: far more
// than any real host has (MaxEntries lines of MaxLineBytes would be more,
// but MaxEntries accounts of ordinary length fit).
const maxFileBytes = 256 << 20

// ExtraDetails keys of the LocalUsers items.
const (
	KeyShell                = "Shell"
	KeyHome                 = "Home"
	KeyLoginShell           = "LoginShell"           // "true" or "false"
	KeyPasswordState        = "PasswordState"        // "empty", "locked", "set" or "unknown"
	KeyEmptyPasswordLogin   = "EmptyPasswordLogin"   // "true" when set
	KeyUID0NotRoot          = "Uid0NotRoot"          // "true" when set
	KeyDuplicateUID         = "DuplicateUid"         // "true" when set
	KeyPasswordHashInPasswd = "PasswordHashInPasswd" // "true" when set
	KeyPrimaryGroupMissing  = "PrimaryGroupMissing"  // "true" when set
	KeyPasswordLastChange   = "PasswordLastChange"   // "YYYY-MM-DD", when known
	KeyAccountExpires       = "AccountExpires"       // "YYYY-MM-DD", when set
)

// Options configure the LocalUsers collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default, when
	// empty) or "/host" when running in a container with the host
	// filesystem mounted there. Absolute symbolic links are resolved
	// inside HostRoot.
	HostRoot string
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
	// MaxEventBytes bounds the JSON size of each LocalUsers event: a host
	// with more accounts than fit gets several events per snapshot, each
	// with a part of the accounts. Zero means DefaultMaxEventBytes. A
	// single account larger than the bound gets an event of its own.
	MaxEventBytes int
}

// Poller takes LocalUsers snapshots. It implements [collector.Poller]; a
// Poller may be used by one goroutine at a time.
type Poller struct {
	root     string
	log      *slog.Logger
	maxBytes int
	now      func() time.Time

	shadowWarned atomic.Bool
}

// New returns a Poller reading the account databases under o.HostRoot.
func New(o Options) *Poller {
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBytes := o.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	return &Poller{root: filepath.Clean(root), log: log, maxBytes: maxBytes, now: time.Now}
}

// NewCollector returns the LocalUsers collector: New(o) polled once at
// start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.LocalUsers, interval, New(o))
}

// Poll implements [collector.Poller]. It returns the LocalUsers snapshot
// as one or more Periodic events (see Options.MaxEventBytes), one item per
// account of /etc/passwd.
//
// When /etc/passwd cannot be read it returns no event and the error. An
// unreadable /etc/group or malformed lines in any file are reported in the
// returned error alongside the events. An unreadable /etc/shadow is not an
// error (it needs privileges the module may not have, see the package
// documentation): the accounts then have PasswordState "unknown".
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.now()
	var errs []error

	accounts, err := readParse(p.root, "etc/passwd", ParsePasswd)
	if accounts == nil && err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("users: %w", err))
	}

	groups, err := readParse(p.root, "etc/group", ParseGroup)
	if err != nil {
		errs = append(errs, fmt.Errorf("users: %w", err))
	}

	shadow, err := readParse(p.root, "etc/shadow", ParseShadow)
	shadowOK := true
	if err != nil {
		var perr *ParseError
		if errors.As(err, &perr) {
			errs = append(errs, fmt.Errorf("users: %w", err))
		} else {
			shadowOK = false
			p.logShadow(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	items := Items(accounts, groups, shadow, shadowOK)
	return p.split(now, items), errors.Join(errs...)
}

func (p *Poller) logShadow(err error) {
	if p.shadowWarned.CompareAndSwap(false, true) {
		p.log.Warn("users: /etc/shadow is not readable; PasswordState will be \"unknown\" (needs root or CAP_DAC_READ_SEARCH)",
			slog.String("root", p.root), slog.Any("error", err))
		return
	}
	p.log.Debug("users: /etc/shadow is not readable", slog.Any("error", err))
}

// split packs items into LocalUsers events of at most p.maxBytes each.
func (p *Poller) split(now time.Time, items []event.Item) []event.Event {
	return collector.Split(event.LocalUsers, now, items, p.maxBytes)
}

// readParse opens root/rel (resolving symbolic links inside root) and
// parses it. A nil result with an error means the file could not be read.
func readParse[T any](root, rel string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	name, err := hostfs.Resolve(root, rel, true)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := parse(io.LimitReader(f, maxFileBytes))
	if out == nil {
		out = []T{}
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// nonLoginShells are the shells of accounts nobody can log in to.
var nonLoginShells = map[string]bool{
	"nologin": true, "false": true, "sync": true, "shutdown": true, "halt": true,
}

// LoginShell reports whether shell lets its account log in interactively:
// false for nologin, false, sync, shutdown and halt (by base name), true
// otherwise, including for an empty shell (which means /bin/sh).
func LoginShell(shell string) bool {
	return !nonLoginShells[path.Base(strings.TrimSpace(shell))]
}

// Items builds the LocalUsers payload items, one per account, in the order
// of accounts. GroupIds and GroupNames list the primary group first, then
// the groups whose member list names the account, in /etc/group order,
// without duplicates; a group id missing from /etc/group is named by its
// number. shadowOK tells whether /etc/shadow was read (otherwise every
// shadowed password is "unknown"). Items is pure: the collector calls it
// with what it read.
func Items(accounts []Account, groups []Group, shadow []ShadowEntry, shadowOK bool) []event.Item {
	gidName := make(map[uint32]string, len(groups))
	memberOf := make(map[string][]uint32)
	for i := range groups {
		g := &groups[i]
		if _, dup := gidName[g.GID]; !dup {
			gidName[g.GID] = g.Name
		}
		for _, m := range g.Members {
			memberOf[m] = append(memberOf[m], g.GID)
		}
	}
	shadowOf := make(map[string]*ShadowEntry, len(shadow))
	for i := range shadow {
		if _, dup := shadowOf[shadow[i].Name]; !dup {
			shadowOf[shadow[i].Name] = &shadow[i]
		}
	}
	uidCount := make(map[uint32]int, len(accounts))
	for i := range accounts {
		uidCount[accounts[i].UID]++
	}

	items := make([]event.Item, 0, len(accounts))
	var ids, names []string
	seen := make(map[uint32]bool)
	for i := range accounts {
		a := &accounts[i]
		ids, names = ids[:0], names[:0]
		clear(seen)
		add := func(gid uint32) {
			if seen[gid] {
				return
			}
			seen[gid] = true
			id := strconv.FormatUint(uint64(gid), 10)
			name, ok := gidName[gid]
			if !ok {
				name = id
			}
			ids = append(ids, id)
			names = append(names, name)
		}
		add(a.GID)
		for _, gid := range memberOf[a.Name] {
			add(gid)
		}

		login := LoginShell(a.Shell)
		extra := event.ExtraDetails{
			KeyShell:      a.Shell,
			KeyHome:       a.Home,
			KeyLoginShell: strconv.FormatBool(login),
		}
		if _, ok := gidName[a.GID]; !ok {
			extra[KeyPrimaryGroupMissing] = "true"
		}
		if a.UID == 0 && a.Name != "root" {
			extra[KeyUID0NotRoot] = "true"
		}
		if uidCount[a.UID] > 1 {
			extra[KeyDuplicateUID] = "true"
		}
		state := a.Password
		switch {
		case state != PasswordShadowed:
			if state == PasswordSet {
				extra[KeyPasswordHashInPasswd] = "true"
			}
		case !shadowOK:
			state = PasswordUnknown
		default:
			s, ok := shadowOf[a.Name]
			if !ok {
				state = PasswordUnknown
				break
			}
			state = s.Password
			if s.LastChange > 0 {
				extra[KeyPasswordLastChange] = formatDays(s.LastChange)
			}
			if s.Expire >= 0 {
				extra[KeyAccountExpires] = formatDays(s.Expire)
			}
		}
		extra[KeyPasswordState] = string(state)
		if login && state == PasswordEmpty {
			extra[KeyEmptyPasswordLogin] = "true"
		}
		items = append(items, &event.LocalUsersPayload{
			UserName:     a.Name,
			UserID:       strconv.FormatUint(uint64(a.UID), 10),
			GroupIDs:     strings.Join(ids, ";"),
			GroupNames:   strings.Join(names, ";"),
			ExtraDetails: extra,
		})
	}
	return items
}

// formatDays formats a shadow(5) day count as a date.
func formatDays(days int64) string {
	const maxDays = 2932896 // 9999-12-31
	if days > maxDays {
		days = maxDays
	}
	return time.Unix(days*86400, 0).UTC().Format(time.DateOnly)
}
