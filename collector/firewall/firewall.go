package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/collector"
	"github.com/edgesec/edgesec/event"
)

// Defaults of the options.
const (
	// DefaultMaxEventBytes keeps every event within the smallest message
	// the configuration allows (maxMessageSizeInBytes 8192).
	DefaultMaxEventBytes = 7 << 10
	// DefaultCommandTimeout bounds one run of an iptables-save binary.
	DefaultCommandTimeout = 10 * time.Second
	// MaxCommandOutput bounds the output read from an iptables-save run.
	MaxCommandOutput = 32 << 20
)

// Options configure the FirewallConfiguration collector.
type Options struct {
	// HostRoot is where the host's filesystem is: "/" (the default) or
	// "/host" in a container. The rules are read from the kernel through
	// the network namespace the collector runs in (the module runs with
	// the host's network), not from files; HostRoot only matters for
	// finding iptables-save binaries when the module's own image has
	// none (see the package documentation).
	HostRoot string
	// NetNS is the path of a network namespace to read instead of the
	// collector's own ("/run/netns/name", "/proc/<pid>/ns/net"); empty
	// reads the current one. Entering it needs CAP_SYS_ADMIN.
	NetNS string
	// IPTables controls the iptables-save binaries: nil runs the ones
	// found in PATH and the usual sbin directories.
	IPTables *IPTablesOptions
	// CommandTimeout bounds each run of a binary (default
	// DefaultCommandTimeout).
	CommandTimeout time.Duration
	// MaxEventBytes bounds the JSON size of one FirewallConfiguration
	// event; a larger ruleset is split over several events of the same
	// snapshot. Zero means DefaultMaxEventBytes.
	MaxEventBytes int
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
}

// IPTablesOptions select the iptables-save binaries.
type IPTablesOptions struct {
	// Disabled skips iptables-save altogether: iptables-nft tables are
	// then decoded from nftables, and legacy tables are not read.
	Disabled bool
	// Dirs are searched, in order, for the binaries, before PATH; empty
	// means /usr/sbin, /sbin, /usr/bin, /bin.
	Dirs []string
}

// Poller takes FirewallConfiguration snapshots. It implements
// [collector.Poller]; a Poller may be used by one goroutine at a time.
type Poller struct {
	root     string
	netns    string
	ipt      IPTablesOptions
	timeout  time.Duration
	maxBytes int
	log      *slog.Logger
	now      func() time.Time

	warnedNoBinary atomic.Bool
}

// New returns a Poller.
func New(o Options) *Poller {
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Poller{root: filepath.Clean(root), netns: o.NetNS, timeout: o.CommandTimeout, maxBytes: o.MaxEventBytes, log: log, now: time.Now}
	if o.IPTables != nil {
		p.ipt = *o.IPTables
	}
	if len(p.ipt.Dirs) == 0 {
		p.ipt.Dirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultCommandTimeout
	}
	if p.maxBytes <= 0 {
		p.maxBytes = DefaultMaxEventBytes
	}
	return p
}

// NewCollector returns the FirewallConfiguration collector: New(o) polled
// once at start and then every interval().
func NewCollector(o Options, interval func() time.Duration) *collector.Ticker {
	return collector.Every(event.FirewallConfiguration, interval, New(o))
}

// Poll implements [collector.Poller]. It returns the snapshot as one or
// more Periodic events (an empty one when the host has no rule and no
// chain), and an error describing what could not be read (partial
// results are returned with it).
func (p *Poller) Poll(ctx context.Context) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.now()
	rules, err := p.Rules(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	items := make([]event.Item, 0, len(rules))
	for i := range rules {
		items = append(items, rules[i].Item())
	}
	return p.split(now, items), err
}

// Rules reads the ruleset: iptables filter tables (legacy, then nft)
// from iptables-save, then the nftables tables that iptables-save did
// not report. The order is stable: by source, family, table, chain,
// then rule position.
func (p *Poller) Rules(ctx context.Context) ([]Rule, error) {
	var rules []Rule
	var err error
	run := func() { rules, err = p.rules(ctx) }
	if p.netns == "" {
		run()
		return rules, err
	}
	if nerr := inNetNS(p.netns, run); nerr != nil {
		return nil, nerr
	}
	return rules, err
}

// inNetNS runs f on a thread that is in the network namespace at path.
// Processes started by f (on that thread) are born in the namespace.
func inNetNS(path string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked when the namespace cannot be
		// restored: it then ends with this goroutine.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: %w", err)
			return
		}
		defer orig.Close()
		ns, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: network namespace: %w", err)
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: enter network namespace %s (needs CAP_SYS_ADMIN): %w", path, err)
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	return <-errc
}

func (p *Poller) rules(ctx context.Context) ([]Rule, error) {
	var errs []error
	var rules []Rule
	// nftables first: it tells whether iptables-nft tables exist.
	conn, err := nftables.New()
	var tables []*nftables.Table
	if err == nil {
		tables, err = conn.ListTables()
	}
	nftOK := err == nil
	if err != nil {
		errs = append(errs, fmt.Errorf("firewall: nftables: %w", err))
	}

	// iptables-save, per family. xtTables holds the ip/ip6 tables it
	// reported from nftables (iptables-nft), not decoded natively again.
	xtTables := map[string]bool{}
	if !p.ipt.Disabled {
		for _, fam := range []struct {
			family, prefix, names string
			nftFam                nftables.TableFamily
		}{
			{FamilyIPv4, "iptables", "ip_tables_names", nftables.TableFamilyIPv4},
			{FamilyIPv6, "ip6tables", "ip6_tables_names", nftables.TableFamilyIPv6},
		} {
			if ctx.Err() != nil {
				return rules, ctx.Err()
			}
			if legacyTables(fam.names) {
				d, err := p.save(ctx, fam.prefix, false)
				switch {
				case err != nil:
					errs = append(errs, err)
				case d != nil:
					rules = append(rules, SaveRules(d, SourceIPTablesLegacy, fam.family)...)
					errs = append(errs, excessErr(d, fam.prefix+"-legacy-save"))
				}
			}
			if nftOK && !hasFamily(tables, fam.nftFam) {
				continue // no ip/ip6 table in nftables: nothing for iptables-nft
			}
			d, err := p.save(ctx, fam.prefix, true)
			switch {
			case err != nil:
				errs = append(errs, err)
			case d != nil:
				rules = append(rules, SaveRules(d, SourceIPTablesNFT, fam.family)...)
				errs = append(errs, excessErr(d, fam.prefix+"-nft-save"))
				for _, t := range d.Tables {
					xtTables[fam.family+" "+t.Name] = true
				}
			}
		}
	}

	if nftOK {
		nr, err := p.nftRules(conn, tables, xtTables)
		rules = append(rules, nr...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rules, errors.Join(errs...)
}

// excessErr reports the rules of d beyond MaxSaveRules, nil when there
// are none (errors.Join drops nil).
func excessErr(d *SaveDump, what string) error {
	if d.Excess == 0 {
		return nil
	}
	return fmt.Errorf("firewall: %s: %d rules beyond the limit of %d not reported", what, d.Excess, MaxSaveRules)
}

func hasFamily(tables []*nftables.Table, f nftables.TableFamily) bool {
	for _, t := range tables {
		if t.Family == f {
			return true
		}
	}
	return false
}

// legacyTables reports whether the current thread's network namespace
// has legacy x_tables tables (/proc/net/ip_tables_names lists them; the
// file is missing when the module is not loaded). Checking it first
// spares an exec, and iptables-legacy-save would load the kernel module.
func legacyTables(names string) bool {
	b, err := os.ReadFile(filepath.Join("/proc/thread-self/net", names))
	return err == nil && len(bytes.TrimSpace(b)) > 0
}

// save runs the iptables-save variant of the family's prefix ("iptables"
// or "ip6tables") for the nft backend or the legacy one and parses its
// output. It returns nil and no error when no binary is found.
func (p *Poller) save(ctx context.Context, prefix string, nft bool) (*SaveDump, error) {
	variant := prefix + "-legacy-save"
	if nft {
		variant = prefix + "-nft-save"
	}
	bin, chroot := p.find(variant)
	if bin == "" {
		// iptables < 1.8 or a distribution without the variants: the
		// plain binary, if its backend is the one wanted.
		bin, chroot = p.find(prefix + "-save")
	}
	if bin == "" {
		if p.warnedNoBinary.CompareAndSwap(false, true) {
			p.log.Warn("firewall: no iptables-save binary found; iptables-nft tables are decoded from nftables and legacy iptables tables are not read",
				slog.Any("dirs", p.ipt.Dirs))
		}
		return nil, nil
	}
	out, err := p.exec(ctx, bin, chroot)
	if err != nil {
		return nil, err
	}
	d, err := ParseIPTablesSaveTables(bytes.NewReader(out), "filter") // SaveRules reports the filter table
	if err != nil {
		return nil, fmt.Errorf("firewall: %s: %w", bin, err)
	}
	if d.Generator != "" && d.NFTables != nft {
		return nil, nil // the plain binary of the other backend
	}
	return d, nil
}

// find looks for a binary in the configured directories and PATH of the
// module, then under HostRoot (run chrooted there, with the host's
// libraries).
func (p *Poller) find(name string) (path, chroot string) {
	for _, dir := range p.ipt.Dirs {
		if isExec(filepath.Join(dir, name)) {
			return filepath.Join(dir, name), ""
		}
	}
	if path, err := exec.LookPath(name); err == nil {
		return path, ""
	}
	if p.root != "/" {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
			if isExec(filepath.Join(p.root, dir, name)) {
				return filepath.Join(dir, name), p.root
			}
		}
	}
	return "", ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// exec runs bin with a timeout and a bounded output. It must be called
// on the thread that is in the wanted network namespace: the child is
// forked from it.
func (p *Poller) exec(ctx context.Context, bin, chroot string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	out := &boundedBuffer{max: MaxCommandOutput}
	var stderr boundedBuffer
	stderr.max = 4 << 10
	cmd.Stdout, cmd.Stderr = out, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.WaitDelay = time.Second
	if chroot != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: chroot}
		cmd.Dir = "/"
	}
	err := cmd.Run()
	if out.over {
		return nil, fmt.Errorf("firewall: %s: output larger than %d bytes", bin, MaxCommandOutput)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if chroot != "" {
			msg += " (run chrooted in " + chroot + ", which needs CAP_SYS_CHROOT)"
		}
		return nil, fmt.Errorf("firewall: %s: %w: %s", bin, err, msg)
	}
	return out.Bytes(), nil
}

// boundedBuffer keeps at most max bytes and notes that more came.
type boundedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// nftRules reads the chains and rules of the ip, ip6 and inet tables,
// skipping the tables iptables-save reported (xtTables, "family name")
// and the chains of types that do not filter (nat, route).
func (p *Poller) nftRules(conn *nftables.Conn, tables []*nftables.Table, xtTables map[string]bool) ([]Rule, error) {
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("firewall: nftables chains: %w", err)
	}
	var errs []error
	var rules []Rule
	for _, t := range tables {
		fam, ok := familyName(t.Family)
		if !ok || xtTables[fam+" "+t.Name] {
			continue
		}
		sets := newSetCache(conn, t)
		for _, c := range chains {
			if c.Table == nil || c.Table.Name != t.Name || c.Table.Family != t.Family {
				continue
			}
			if c.Hooknum != nil && c.Type != "" && c.Type != nftables.ChainTypeFilter {
				continue
			}
			hook := hookName(c.Hooknum)
			rs, err := conn.GetRules(t, c)
			if err != nil {
				errs = append(errs, fmt.Errorf("firewall: nftables rules of %s %s %s: %w", fam, t.Name, c.Name, err))
				continue
			}
			for i, nr := range rs {
				r := Rule{Source: SourceNFTables, Family: fam, Table: t.Name, Chain: c.Name, Hook: hook, Index: i + 1}
				DecodeNFTRule(&r, fam, nr.Exprs, sets.lookup)
				rules = append(rules, r)
			}
			if c.Hooknum != nil {
				policy := "accept"
				action := event.ActionAllow
				if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
					policy, action = "drop", event.ActionDeny
				}
				rules = append(rules, Rule{Source: SourceNFTables, Family: fam, Table: t.Name, Chain: c.Name, Hook: hook,
					Index: len(rs) + 1, Policy: true, Action: action, Target: policy})
			}
		}
	}
	return rules, errors.Join(errs...)
}

// setCache resolves the sets of one table, each read at most once.
type setCache struct {
	conn  *nftables.Conn
	table *nftables.Table
	sets  map[string]*nftables.Set
	elems map[string][]nftables.SetElement
	err   error
}

func newSetCache(conn *nftables.Conn, t *nftables.Table) *setCache {
	return &setCache{conn: conn, table: t}
}

func (s *setCache) lookup(name string) ([]nftables.SetElement, bool, bool) {
	if s.sets == nil && s.err == nil {
		sets, err := s.conn.GetSets(s.table)
		s.err = err
		s.sets = map[string]*nftables.Set{}
		s.elems = map[string][]nftables.SetElement{}
		for _, st := range sets {
			s.sets[st.Name] = st
		}
	}
	st, ok := s.sets[name]
	if !ok || st.IsMap || st.Concatenation {
		return nil, false, false
	}
	if e, ok := s.elems[name]; ok {
		return e, st.Interval, true
	}
	e, err := s.conn.GetSetElements(st)
	if err != nil || len(e) > 4096 {
		return nil, false, false
	}
	s.elems[name] = e
	return e, st.Interval, true
}

// split packs items into FirewallConfiguration events of at most p.maxBytes each.
func (p *Poller) split(now time.Time, items []event.Item) []event.Event {
	return collector.Split(event.FirewallConfiguration, now, items, p.maxBytes)
}
