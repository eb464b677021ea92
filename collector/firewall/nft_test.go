package firewall

import (
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"

	"github.com/edgesec/edgesec/event"
)

func TestDecodeNFTRulePure(t *testing.T) {
	sets := func(name string) ([]nftables.SetElement, bool, bool) {
		switch name {
		case "ports":
			return []nftables.SetElement{{Key: []byte{0, 80}}, {Key: []byte{0, 22}}}, false, true
		case "nets": // 10.0.0.0/8 and 192.0.2.5-192.0.2.9, as the kernel lists an interval set
			return []nftables.SetElement{
				{Key: []byte{0, 0, 0, 0}, IntervalEnd: true},
				{Key: []byte{10, 0, 0, 0}}, {Key: []byte{11, 0, 0, 0}, IntervalEnd: true},
				{Key: []byte{192, 0, 2, 5}}, {Key: []byte{192, 0, 2, 10}, IntervalEnd: true},
			}, true, true
		}
		return nil, false, false
	}
	r := Rule{}
	DecodeNFTRule(&r, FamilyIPv4, []expr.Any{
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4, DestRegister: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "nets"},
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4, DestRegister: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 240, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{172, 16, 0, 0}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{17}},
		&expr.Payload{OperationType: expr.PayloadLoad, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "ports", Invert: true},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}, sets)
	assert.Equal(t, "10.0.0.0/8,192.0.2.5-192.0.2.9", r.SourceAddress)
	assert.Equal(t, "!172.16.0.0/20", r.DestinationAddress)
	assert.Equal(t, "udp", r.Protocol)
	assert.Equal(t, "!22,80", r.DestinationPort)
	assert.Equal(t, event.ActionDeny, r.Action)
	assert.Empty(t, r.Extra[KeyUndecoded])

	// What cannot be mapped is flagged and summarised; the verdict still
	// decides the action.
	r = Rule{}
	DecodeNFTRule(&r, FamilyInet, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1, 0, 0, 0}},
		&expr.Match{Name: "tcp"},
		&expr.Lookup{SourceRegister: 1, SetName: "missing"},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}, sets)
	assert.Equal(t, "true", r.Extra[KeyUndecoded])
	assert.Equal(t, event.ActionAllow, r.Action)
	assert.Equal(t, "meta key 3 > r1; cmp r1 == 01000000; xt match tcp; lookup r1 @missing; verdict accept", r.Extra[KeyRule])

	// No verdict: the rule only counts or logs, evaluation goes on.
	r = Rule{}
	DecodeNFTRule(&r, FamilyIPv6, []expr.Any{&expr.Counter{}}, nil)
	assert.Equal(t, event.ActionOther, r.Action)
	assert.Equal(t, "continue", r.Target)
}

func TestNFTHelpers(t *testing.T) {
	p, ok := asPrefix([]byte{10, 0, 0, 0}, []byte{10, 255, 255, 255})
	assert.True(t, ok)
	assert.Equal(t, "10.0.0.0/8", p)
	_, ok = asPrefix([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 6})
	assert.False(t, ok)
	assert.Equal(t, "established,related,0x100", ctStates(2|4|256))
	n, ok := maskLen([]byte{255, 255, 128, 0})
	assert.True(t, ok)
	assert.Equal(t, 17, n)
	_, ok = maskLen([]byte{255, 0, 255, 0})
	assert.False(t, ok)
	assert.Equal(t, []byte{1, 255}, dec([]byte{2, 0}))
	assert.Equal(t, "ipv6-icmp", protoName(58))
	assert.Equal(t, "253", protoName(253))
}
