package firewall

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/edgesec/edgesec/event"
)

// familyName maps an nftables table family to the Family of the rules;
// families that do not filter IP traffic on this host's stack (arp,
// bridge, netdev) are not reported.
func familyName(f nftables.TableFamily) (string, bool) {
	switch f {
	case nftables.TableFamilyIPv4:
		return FamilyIPv4, true
	case nftables.TableFamilyIPv6:
		return FamilyIPv6, true
	case nftables.TableFamilyINet:
		return FamilyInet, true
	}
	return "", false
}

// hookName names the hook of a base chain of an ip, ip6 or inet table.
func hookName(h *nftables.ChainHook) string {
	if h == nil {
		return ""
	}
	switch *h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	case 5: // NF_INET_INGRESS (inet family)
		return "ingress"
	}
	return "hook" + strconv.Itoa(int(*h))
}

// SetLookup returns the elements of a named set of the rule's table and
// whether it is an interval set; ok is false when the set is unknown.
type SetLookup func(name string) (elems []nftables.SetElement, interval, ok bool)

// field is what a register holds while a rule is decoded.
type field struct {
	kind   string // "saddr", "daddr", "sport", "dport", "l4proto", "nfproto", "iifname", "oifname", "ctstate", "" (unknown)
	prefix int    // address mask length, -1 when none
	size   int    // address length in bytes (4 or 16) for saddr and daddr
	mask   uint32 // ct state bit mask
}

// DecodeNFTRule decodes a rule's expressions into r's match fields,
// action and target. family is the table's family; sets resolves the
// sets a lookup names (nil: none). The expressions it cannot map to
// fields make Extra[KeyUndecoded] "true"; Extra[KeyRule] always holds a
// summary of every expression.
func DecodeNFTRule(r *Rule, family string, exprs []expr.Any, sets SetLookup) {
	if r.Extra == nil {
		r.Extra = map[string]string{}
	}
	l3 := family // "ipv4", "ipv6" or "inet" until a nfproto match says
	regs := map[uint32]field{}
	low := map[uint32]string{} // a ">=" bound waiting for its "<="
	undecoded := false
	var summary []string
	set := func(kind string, neg bool, v string) {
		if neg {
			v = "!" + v
		}
		switch kind {
		case "saddr":
			r.SourceAddress = v
		case "daddr":
			r.DestinationAddress = v
		case "sport":
			r.SourcePort = v
		case "dport":
			r.DestinationPort = v
		case "l4proto":
			r.Protocol = v
		case "iifname":
			r.Extra[KeyInInterface] = v
		case "oifname":
			r.Extra[KeyOutInterface] = v
		case "ctstate":
			r.Extra[KeyState] = v
		}
	}
	r.Action = event.ActionOther
	for _, e := range exprs {
		summary = append(summary, summarize(e))
		switch e := e.(type) {
		case *expr.Meta:
			if e.SourceRegister {
				undecoded = true
				continue
			}
			f := field{prefix: -1}
			switch e.Key {
			case expr.MetaKeyL4PROTO:
				f.kind = "l4proto"
			case expr.MetaKeyNFPROTO:
				f.kind = "nfproto"
			case expr.MetaKeyIIFNAME:
				f.kind = "iifname"
			case expr.MetaKeyOIFNAME:
				f.kind = "oifname"
			default:
				undecoded = true
			}
			regs[e.Register] = f
		case *expr.Payload:
			if e.OperationType != expr.PayloadLoad {
				undecoded = true
				continue
			}
			f := payloadField(e, l3)
			regs[e.DestRegister] = f
			if f.kind == "" {
				undecoded = true
			}
		case *expr.Ct:
			if e.Key == expr.CtKeySTATE && !e.SourceRegister {
				regs[e.Register] = field{kind: "ctstate", prefix: -1}
			} else {
				regs[e.Register] = field{prefix: -1}
				undecoded = true
			}
		case *expr.Bitwise:
			f := regs[e.SourceRegister]
			switch f.kind {
			case "saddr", "daddr":
				if ones, ok := maskLen(e.Mask); ok && isZero(e.Xor) {
					f.prefix = ones
				} else {
					f.kind = ""
					undecoded = true
				}
			case "ctstate":
				if len(e.Mask) == 4 {
					f.mask = binary.NativeEndian.Uint32(e.Mask)
				}
			default:
				f.kind = ""
				undecoded = true
			}
			regs[e.DestRegister] = f
		case *expr.Cmp:
			f := regs[e.Register]
			if e.Op == expr.CmpOpGte || e.Op == expr.CmpOpLte {
				// nft writes "th dport 5000-5010" as >= 5000, <= 5010.
				v, ok := formatValue(field{kind: f.kind, prefix: -1, size: f.size}, e.Data)
				switch {
				case !ok || f.kind == "nfproto" || f.kind == "ctstate":
					undecoded = true
				case e.Op == expr.CmpOpGte:
					low[e.Register] = v
				case low[e.Register] != "":
					set(f.kind, false, low[e.Register]+"-"+v)
					delete(low, e.Register)
				default:
					undecoded = true
				}
				continue
			}
			if e.Op != expr.CmpOpEq && e.Op != expr.CmpOpNeq {
				undecoded = true
				continue
			}
			neg := e.Op == expr.CmpOpNeq
			switch f.kind {
			case "nfproto":
				if len(e.Data) == 1 && !neg {
					switch e.Data[0] {
					case unix.NFPROTO_IPV4:
						l3 = FamilyIPv4
					case unix.NFPROTO_IPV6:
						l3 = FamilyIPv6
					}
				} else {
					undecoded = true
				}
			case "ctstate":
				// "ct state established,related": (state & mask) != 0
				if neg && isZero(e.Data) && f.mask != 0 {
					set("ctstate", false, ctStates(f.mask))
				} else if !neg && isZero(e.Data) && f.mask != 0 {
					set("ctstate", true, ctStates(f.mask))
				} else if len(e.Data) == 4 {
					set("ctstate", neg, ctStates(binary.NativeEndian.Uint32(e.Data)))
				} else {
					undecoded = true
				}
			case "":
				undecoded = true
			default:
				v, ok := formatValue(f, e.Data)
				if !ok {
					undecoded = true
					continue
				}
				set(f.kind, neg, v)
			}
		case *expr.Range:
			f := regs[e.Register]
			from, ok1 := formatValue(field{kind: f.kind, prefix: -1, size: f.size}, e.FromData)
			to, ok2 := formatValue(field{kind: f.kind, prefix: -1, size: f.size}, e.ToData)
			if f.kind == "" || f.kind == "nfproto" || f.kind == "ctstate" || !ok1 || !ok2 || (e.Op != expr.CmpOpEq && e.Op != expr.CmpOpNeq) {
				undecoded = true
				continue
			}
			set(f.kind, e.Op == expr.CmpOpNeq, from+"-"+to)
		case *expr.Lookup:
			f := regs[e.SourceRegister]
			if e.IsDestRegSet || sets == nil || f.kind == "" || f.kind == "nfproto" || f.kind == "ctstate" {
				undecoded = true
				continue
			}
			elems, interval, ok := sets(e.SetName)
			if !ok {
				undecoded = true
				continue
			}
			v, ok := formatSet(f, elems, interval)
			if !ok {
				undecoded = true
				continue
			}
			set(f.kind, e.Invert, v)
		case *expr.Verdict:
			r.Target, r.Action = verdict(e)
		case *expr.Reject:
			r.Target, r.Action = "reject", event.ActionDeny
		case *expr.Target:
			// an xtables target kept by iptables-nft (REJECT, LOG, ...)
			r.Target, r.Action = e.Name, targetAction(e.Name)
		case *expr.Counter:
		case *expr.Log:
			if r.Target == "" {
				r.Extra["Log"] = "true"
			}
		default:
			undecoded = true
		}
	}
	if len(low) > 0 {
		undecoded = true
	}
	if r.Target == "" {
		r.Target = "continue"
	}
	r.Extra[KeyRule] = strings.Join(summary, "; ")
	if undecoded {
		r.Extra[KeyUndecoded] = "true"
	}
}

// verdict maps an nftables verdict to a target name and an action.
func verdict(v *expr.Verdict) (string, string) {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept", event.ActionAllow
	case expr.VerdictDrop:
		return "drop", event.ActionDeny
	case expr.VerdictJump:
		return "jump:" + v.Chain, event.ActionOther
	case expr.VerdictGoto:
		return "goto:" + v.Chain, event.ActionOther
	case expr.VerdictReturn:
		return "return", event.ActionOther
	case expr.VerdictQueue:
		return "queue", event.ActionOther
	case expr.VerdictContinue:
		return "continue", event.ActionOther
	case expr.VerdictStop:
		return "stop", event.ActionOther
	}
	return fmt.Sprintf("verdict(%d)", v.Kind), event.ActionOther
}

// payloadField names the header field a payload load reads. Address
// loads shorter than the address (nft loads only the leading bytes of a
// byte-aligned prefix such as 10.0.0.0/8) get the prefix they imply.
func payloadField(p *expr.Payload, l3 string) field {
	f := field{prefix: -1}
	addr := func(kind string, size int) field {
		f.kind, f.size = kind, size
		if int(p.Len) < size {
			f.prefix = int(p.Len) * 8
		}
		return f
	}
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		v4, v6 := l3 != FamilyIPv6, l3 != FamilyIPv4
		switch {
		case v4 && p.Offset == 9 && p.Len == 1:
			f.kind = "l4proto"
		case v4 && p.Offset == 12 && p.Len >= 1 && p.Len <= 4:
			return addr("saddr", 4)
		case v4 && p.Offset == 16 && p.Len >= 1 && p.Len <= 4:
			return addr("daddr", 4)
		case v6 && p.Offset == 6 && p.Len == 1:
			f.kind = "l4proto"
		case v6 && p.Offset == 8 && p.Len >= 1 && p.Len <= 16:
			return addr("saddr", 16)
		case v6 && p.Offset == 24 && p.Len >= 1 && p.Len <= 16:
			return addr("daddr", 16)
		}
	case expr.PayloadBaseTransportHeader:
		switch {
		case p.Offset == 0 && p.Len == 2:
			f.kind = "sport"
		case p.Offset == 2 && p.Len == 2:
			f.kind = "dport"
		}
	}
	return f
}

// formatValue renders a compared value of a field.
func formatValue(f field, data []byte) (string, bool) {
	switch f.kind {
	case "saddr", "daddr":
		if f.size > len(data) {
			data = append(slices.Clone(data), make([]byte, f.size-len(data))...)
		}
		a, ok := netip.AddrFromSlice(data)
		if !ok {
			return "", false
		}
		if f.prefix >= 0 && f.prefix < a.BitLen() {
			return netip.PrefixFrom(a, f.prefix).String(), true
		}
		return a.String(), true
	case "sport", "dport":
		if len(data) != 2 {
			return "", false
		}
		return strconv.Itoa(int(binary.BigEndian.Uint16(data))), true
	case "l4proto":
		if len(data) != 1 {
			return "", false
		}
		return protoName(data[0]), true
	case "iifname", "oifname":
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return string(data[:i]), true
		}
		return string(data) + "*", true // a prefix match: "eth*"
	}
	return "", false
}

// formatSet renders the elements of an anonymous or named set as a list
// ("22,80,443", "1000-2000", "10.0.0.0/8,192.0.2.1").
func formatSet(f field, elems []nftables.SetElement, interval bool) (string, bool) {
	f.prefix = -1
	if !interval {
		var out []string
		for _, e := range elems {
			v, ok := formatValue(f, e.Key)
			if !ok {
				return "", false
			}
			out = append(out, v)
		}
		slices.Sort(out)
		return strings.Join(out, ","), len(out) > 0
	}
	// Interval sets: starts, and end markers (IntervalEnd) holding the
	// first value after the range.
	es := slices.Clone(elems)
	slices.SortStableFunc(es, func(a, b nftables.SetElement) int { return bytes.Compare(a.Key, b.Key) })
	var out []string
	for i := 0; i < len(es); i++ {
		if es[i].IntervalEnd {
			continue
		}
		start := es[i].Key
		var last []byte
		if i+1 < len(es) && es[i+1].IntervalEnd {
			last = dec(es[i+1].Key)
			i++
		} else {
			last = bytes.Repeat([]byte{0xff}, len(start))
		}
		out = append(out, formatRange(f, start, last))
	}
	return strings.Join(out, ","), len(out) > 0
}

// formatRange renders [start, last] as a single value, a prefix or a
// range.
func formatRange(f field, start, last []byte) string {
	a, _ := formatValue(f, start)
	if bytes.Equal(start, last) {
		return a
	}
	if f.kind == "saddr" || f.kind == "daddr" {
		if p, ok := asPrefix(start, last); ok {
			return p
		}
	}
	b, _ := formatValue(f, last)
	return a + "-" + b
}

// asPrefix reports whether [start, last] is exactly one CIDR block.
func asPrefix(start, last []byte) (string, bool) {
	if len(start) != len(last) {
		return "", false
	}
	bits := len(start) * 8
	// host bits: the trailing bits where start is 0 and last is 1
	host := 0
	for host < bits {
		i := bits - 1 - host
		sb := start[i/8] >> (7 - i%8) & 1
		lb := last[i/8] >> (7 - i%8) & 1
		if sb != 0 || lb != 1 {
			break
		}
		host++
	}
	for i := 0; i < bits-host; i++ {
		if start[i/8]>>(7-i%8)&1 != last[i/8]>>(7-i%8)&1 {
			return "", false
		}
	}
	a, ok := netip.AddrFromSlice(start)
	if !ok {
		return "", false
	}
	return netip.PrefixFrom(a, bits-host).String(), true
}

// dec returns b - 1 as a big-endian number (b > 0).
func dec(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] > 0 {
			out[i]--
			break
		}
		out[i] = 0xff
	}
	return out
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// maskLen returns the prefix length of a contiguous network mask.
func maskLen(m []byte) (int, bool) {
	ones := 0
	zero := false
	for _, c := range m {
		for i := 7; i >= 0; i-- {
			if c>>i&1 == 1 {
				if zero {
					return 0, false
				}
				ones++
			} else {
				zero = true
			}
		}
	}
	return ones, len(m) > 0
}

// ctStates names the conntrack state bits.
func ctStates(mask uint32) string {
	names := []struct {
		bit  uint32
		name string
	}{{1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}}
	var out []string
	for _, n := range names {
		if mask&n.bit != 0 {
			out = append(out, n.name)
			mask &^= n.bit
		}
	}
	if mask != 0 {
		out = append(out, "0x"+strconv.FormatUint(uint64(mask), 16))
	}
	return strings.Join(out, ",")
}

// protoName names an IP protocol number as iptables does.
func protoName(p byte) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "ipv6-icmp"
	case unix.IPPROTO_SCTP:
		return "sctp"
	case unix.IPPROTO_UDPLITE:
		return "udplite"
	case unix.IPPROTO_ESP:
		return "esp"
	case unix.IPPROTO_AH:
		return "ah"
	case unix.IPPROTO_GRE:
		return "gre"
	case unix.IPPROTO_IGMP:
		return "igmp"
	}
	return strconv.Itoa(int(p))
}

// summarize renders one expression compactly, for ExtraDetails Rule.
func summarize(e expr.Any) string {
	switch e := e.(type) {
	case *expr.Meta:
		return fmt.Sprintf("meta key %d > r%d", e.Key, e.Register)
	case *expr.Payload:
		base := map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "ll", expr.PayloadBaseNetworkHeader: "nh", expr.PayloadBaseTransportHeader: "th"}[e.Base]
		return fmt.Sprintf("payload %s+%d/%d > r%d", base, e.Offset, e.Len, e.DestRegister)
	case *expr.Cmp:
		op := map[expr.CmpOp]string{expr.CmpOpEq: "==", expr.CmpOpNeq: "!=", expr.CmpOpLt: "<", expr.CmpOpLte: "<=", expr.CmpOpGt: ">", expr.CmpOpGte: ">="}[e.Op]
		return fmt.Sprintf("cmp r%d %s %s", e.Register, op, hex.EncodeToString(e.Data))
	case *expr.Bitwise:
		return fmt.Sprintf("bitwise r%d & %s ^ %s > r%d", e.SourceRegister, hex.EncodeToString(e.Mask), hex.EncodeToString(e.Xor), e.DestRegister)
	case *expr.Range:
		return fmt.Sprintf("range r%d %s-%s", e.Register, hex.EncodeToString(e.FromData), hex.EncodeToString(e.ToData))
	case *expr.Lookup:
		inv := ""
		if e.Invert {
			inv = "!"
		}
		return fmt.Sprintf("lookup r%d %s@%s", e.SourceRegister, inv, e.SetName)
	case *expr.Ct:
		return fmt.Sprintf("ct key %d > r%d", e.Key, e.Register)
	case *expr.Verdict:
		t, _ := verdict(e)
		return "verdict " + t
	case *expr.Counter:
		return "counter"
	case *expr.Log:
		return "log"
	case *expr.Reject:
		return fmt.Sprintf("reject type %d code %d", e.Type, e.Code)
	case *expr.Match:
		return "xt match " + e.Name
	case *expr.Target:
		return "xt target " + e.Name
	case *expr.Limit:
		return fmt.Sprintf("limit %d/%d", e.Rate, e.Unit)
	case *expr.Immediate:
		return fmt.Sprintf("immediate r%d %s", e.Register, hex.EncodeToString(e.Data))
	}
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr."))
}
