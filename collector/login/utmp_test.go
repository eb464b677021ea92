package login

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantWtmp is what testdata/wtmp-x86_64.txt says (utmpdump -r wrote the
// binary file from it; gen_utmp64.py the time64 one).
var wantWtmp = []Record{
	{Type: BootTime, PID: 0, Line: "~", ID: "~~  ", User: "reboot", Host: "6.1.0-18-amd64", Time: ts("2024-03-03T09:58:10Z")},
	{Type: RunLevel, PID: 51, Line: "~", ID: "~~  ", User: "runlevel", Host: "6.1.0-18-amd64", Time: ts("2024-03-03T09:58:12Z")},
	{Type: LoginProcess, PID: 612, Line: "tty1", ID: "tty1", User: "LOGIN", Time: ts("2024-03-03T09:58:13Z")},
	{Type: UserProcess, PID: 612, Line: "tty1", ID: "tty1", User: "root", Time: ts("2024-03-03T09:59:00.25Z")},
	{Type: UserProcess, PID: 1234, Line: "pts/0", ID: "ts/0", User: "alice", Host: "192.0.2.10", Addr: netip.MustParseAddr("192.0.2.10"), Time: ts("2024-03-03T10:00:01.123456Z")},
	{Type: UserProcess, PID: 1300, Line: "pts/1", ID: "ts/1", User: "bob", Host: "2001:db8::7", Addr: netip.MustParseAddr("2001:db8::7"), Time: ts("2024-03-03T10:05:00Z")},
	{Type: DeadProcess, PID: 1234, Line: "pts/0", ID: "ts/0", Time: ts("2024-03-03T10:30:00Z")},
	{Type: UserProcess, PID: 1400, Line: "pts/2", ID: "ts/2", User: "carol", Host: "gateway.example.net", Addr: netip.MustParseAddr("198.51.100.4"), Time: ts("2024-03-03T11:00:00Z")},
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseUtmpFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		layout Layout
	}{
		{"testdata/wtmp-x86_64", Layout32},
		{"testdata/wtmp-time64", Layout64},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			require.NoError(t, err)
			l, err := DetectLayout(data)
			require.NoError(t, err)
			require.Equal(t, tc.layout, l)
			recs, rest, err := ParseUtmp(data, l)
			require.NoError(t, err)
			require.Zero(t, rest)
			require.Len(t, recs, len(wantWtmp))
			for i := range recs {
				w, g := wantWtmp[i], recs[i]
				g.Session = 0 // utmpdump does not keep it
				assert.Equal(t, w, g, "record %d", i)
			}
			// The other record size does not parse as well.
			other := Layout64
			if l == Layout64 {
				other = Layout32
			}
			bad := 0
			for i := 0; i+other.Size <= len(data); i += other.Size {
				if !plausible(data[i:i+other.Size], other) {
					bad++
				}
			}
			assert.Positive(t, bad, "records of the wrong layout look plausible")
		})
	}
}

func TestParseUtmpBtmpFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/btmp-x86_64")
	require.NoError(t, err)
	l, err := DetectLayout(data)
	require.NoError(t, err)
	recs, _, err := ParseUtmp(data, l)
	require.NoError(t, err)
	var users []string
	for _, r := range recs {
		users = append(users, r.User+"@"+r.Line+"@"+r.Addr.String())
	}
	assert.Equal(t, []string{
		"root@ssh:notty@203.0.113.5", "admin@ssh:notty@203.0.113.5",
		"hunter2pass@tty1@invalid IP", "alice@ssh:notty@2001:db8::66",
	}, users)
}

// A real wtmp from this machine, when there is one, decodes with a
// detected layout and plausible records.
func TestParseUtmpThisMachine(t *testing.T) {
	for _, f := range []string{"/var/log/wtmp", "/var/run/utmp", "/var/log/btmp"} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) < Layout32.Size {
			t.Logf("%s: nothing to read (%v, %d bytes)", f, err, len(data))
			continue
		}
		l, err := DetectLayout(data)
		require.NoError(t, err, f)
		recs, _, err := ParseUtmp(data, l)
		require.NoError(t, err)
		for _, r := range recs {
			require.True(t, r.Type >= Empty && r.Type <= Accounting, "%s: %+v", f, r)
		}
		t.Logf("%s: %d records, layout %v", f, len(recs), l)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	r := Record{Type: UserProcess, PID: 4242, Line: "pts/9", ID: "ts/9", User: "dave", Host: "::ffff:192.0.2.1",
		Addr: netip.MustParseAddr("2001:db8::1"), ExitTerm: 1, ExitCode: 2, Session: 77, Time: ts("2025-01-02T03:04:05.000006Z")}
	for _, l := range knownLayout {
		b, err := EncodeRecord(r, l)
		require.NoError(t, err)
		require.Len(t, b, l.Size)
		got, err := DecodeRecord(b, l)
		require.NoError(t, err)
		assert.Equal(t, r, got, l.String())
		got2, err := DetectLayout(bytes.Repeat(b, 3))
		require.NoError(t, err)
		assert.Equal(t, l, got2)
	}
	// Times after 2038 survive the 32-bit layout (read unsigned).
	r.Time = ts("2040-01-01T00:00:00Z")
	b, _ := EncodeRecord(r, Layout32)
	got, _ := DecodeRecord(b, Layout32)
	assert.Equal(t, r.Time, got.Time)
}

func TestDecodeAddr(t *testing.T) {
	for in, want := range map[[16]byte]string{
		{}:             "invalid IP",
		{192, 0, 2, 1}: "192.0.2.1",
		{10: 0xff, 11: 0xff, 12: 198, 13: 51, 14: 100, 15: 1}: "198.51.100.1",
		{0x20, 0x01, 0x0d, 0xb8, 15: 1}:                       "2001:db8::1",
	} {
		assert.Equal(t, want, decodeAddr(in[:]).String())
	}
}

func TestParseUtmpErrors(t *testing.T) {
	_, err := DetectLayout(bytes.Repeat([]byte{0xff}, 4000))
	require.ErrorIs(t, err, ErrNotUtmp)
	l, err := DetectLayout([]byte{1, 2, 3})
	require.NoError(t, err)
	assert.Equal(t, Layout32, l)
	_, _, err = ParseUtmp(nil, Layout{Size: 3})
	require.Error(t, err)
	_, err = DecodeRecord(make([]byte, 10), Layout32)
	require.Error(t, err)
	recs, rest, err := ParseUtmp(make([]byte, 384+100), Layout32)
	require.NoError(t, err)
	assert.Len(t, recs, 1)
	assert.Equal(t, 100, rest)
	// Invalid UTF-8 and control bytes in text fields are made safe.
	b, _ := EncodeRecord(Record{Type: UserProcess, User: "a\xffb", Time: ts("2024-01-01T00:00:00Z")}, Layout32)
	r, err := DecodeRecord(b, Layout32)
	require.NoError(t, err)
	assert.Equal(t, "a\uFFFDb", r.User)
}

func FuzzParseUtmp(f *testing.F) {
	for _, name := range []string{"testdata/wtmp-x86_64", "testdata/wtmp-time64", "testdata/btmp-x86_64"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2+7])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DetectLayout(data)
		if err != nil {
			l = Layout32
		}
		recs, rest, err := ParseUtmp(data, l)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs)*l.Size+rest != len(data) || rest >= l.Size {
			t.Fatalf("%d records + %d rest for %d bytes", len(recs), rest, len(data))
		}
		for _, r := range recs {
			if len(r.User) > 3*lenUser || len(r.Host) > 3*lenHost {
				t.Fatalf("oversized field: %+v", r)
			}
			if r.Addr.IsValid() && r.Addr.Zone() != "" {
				t.Fatalf("zone in address %v", r.Addr)
			}
		}
	})
}
