package twinconfig

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ErrDurationSyntax is wrapped by ParseDuration errors for strings that do
// not match the official ISO 8601 duration pattern.
var ErrDurationSyntax = errors.New("not an ISO 8601 duration")

// ErrDurationRange is wrapped by ParseDuration errors for well-formed
// durations that do not fit in a time.Duration (about 292 years).
var ErrDurationRange = errors.New("duration out of range")

// Lengths of the calendar units, as the original agents counted them.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 365 * day
)

// durationUnit is one component designator of an ISO 8601 duration.
type durationUnit struct {
	letter byte
	size   time.Duration
}

var (
	dateUnits = []durationUnit{{'Y', year}, {'M', month}, {'W', week}, {'D', day}}
	timeUnits = []durationUnit{{'H', time.Hour}, {'M', time.Minute}, {'S', time.Second}}
)

// ParseDuration parses an ISO 8601 duration as the official twin schema's
// TimeConfiguration pattern allows it:
//
//	^P(?!$)(nY)?(nM)?(nW)?(nD)?(T(?=\d)(nH)?(nM)?(nS)?)?$
//
// Components come in that order, each at most once; n is a decimal integer,
// and may have a fraction ("1.5") only in the last component of the string
// (seconds may always have one). "P" and "PT" alone are invalid, as are
// signs, commas, lower-case letters and spaces. A year is 365 days, a month
// 30 days, a week 7 days and a day 24 hours. Fractions finer than a
// nanosecond are truncated.
//
// Errors wrap [ErrDurationSyntax] or [ErrDurationRange]. ParseDuration
// returns 0 for a zero duration such as "PT0S"; the configuration itself
// requires at least one second.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 || s[0] != 'P' {
		return 0, fmt.Errorf("twinconfig: %q: %w", s, ErrDurationSyntax)
	}
	p := durationParser{s: s, i: 1}
	if err := p.components(dateUnits); err != nil {
		return 0, err
	}
	if p.i < len(s) && s[p.i] == 'T' {
		p.i++
		if p.i >= len(s) || !isDigit(s[p.i]) {
			return 0, p.syntax()
		}
		if err := p.components(timeUnits); err != nil {
			return 0, err
		}
	}
	if p.i != len(s) {
		return 0, p.syntax()
	}
	return p.total, nil
}

type durationParser struct {
	s     string
	i     int
	total time.Duration
}

func (p *durationParser) syntax() error {
	return fmt.Errorf("twinconfig: %q: %w", p.s, ErrDurationSyntax)
}

// components parses the components of one part (date or time) in order.
func (p *durationParser) components(units []durationUnit) error {
	next := 0
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		start := p.i
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
		intPart := p.s[start:p.i]
		fracPart := ""
		if p.i < len(p.s) && p.s[p.i] == '.' {
			p.i++
			fs := p.i
			for p.i < len(p.s) && isDigit(p.s[p.i]) {
				p.i++
			}
			if p.i == fs {
				return p.syntax()
			}
			fracPart = p.s[fs:p.i]
		}
		if p.i >= len(p.s) {
			return p.syntax() // a number without a designator
		}
		letter := p.s[p.i]
		p.i++
		u := -1
		for k := next; k < len(units); k++ {
			if units[k].letter == letter {
				u = k
				break
			}
		}
		if u < 0 {
			return p.syntax() // unknown, repeated or out of order
		}
		next = u + 1
		// Only the last component of the string may have a fraction
		// (seconds always end the string anyway).
		if fracPart != "" && p.i != len(p.s) {
			return p.syntax()
		}
		d, ok := componentValue(intPart, fracPart, units[u].size)
		if !ok || d > math.MaxInt64-p.total {
			return fmt.Errorf("twinconfig: %q: %w", p.s, ErrDurationRange)
		}
		p.total += d
	}
	return nil
}

// componentValue returns (intPart.fracPart) * unit, truncated to whole
// nanoseconds; ok is false on overflow.
func componentValue(intPart, fracPart string, unit time.Duration) (time.Duration, bool) {
	intPart = strings.TrimLeft(intPart, "0")
	var n uint64
	if intPart != "" {
		if len(intPart) > 19 {
			return 0, false
		}
		v, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil {
			return 0, false
		}
		n = v
	}
	hi, lo := bits.Mul64(n, uint64(unit))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	total := lo
	if fracPart != "" {
		// Keep 18 digits: unit < 10^17 ns, so the dropped digits change the
		// result by less than one nanosecond.
		if len(fracPart) > 18 {
			fracPart = fracPart[:18]
		}
		f, err := strconv.ParseUint(fracPart, 10, 64)
		if err != nil {
			return 0, false
		}
		den := uint64(1)
		for range len(fracPart) {
			den *= 10
		}
		fh, fl := bits.Mul64(f, uint64(unit))
		q, _ := bits.Div64(fh, fl, den) // fh < den: f < den and unit < 2^64
		if q > math.MaxInt64-total {
			return 0, false
		}
		total += q
	}
	if total > math.MaxInt64 {
		return 0, false
	}
	return time.Duration(total), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// FormatDuration formats d as a canonical ISO 8601 duration that
// [ParseDuration] reads back to the same value: days and a time part, with
// zero components left out, for example "PT7M", "PT5H", "PT13H", "P1D",
// "P1DT12H", "PT1.5S". Weeks, months and years are never used. Zero is
// "PT0S". A negative duration, which the schema cannot express, is written
// with a leading "-" (ISO 8601-2), which ParseDuration rejects.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b []byte
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u
	}
	b = append(b, 'P')
	days := u / uint64(day)
	u %= uint64(day)
	if days > 0 {
		b = strconv.AppendUint(b, days, 10)
		b = append(b, 'D')
	}
	if u == 0 {
		return string(b)
	}
	b = append(b, 'T')
	if h := u / uint64(time.Hour); h > 0 {
		b = strconv.AppendUint(b, h, 10)
		b = append(b, 'H')
	}
	u %= uint64(time.Hour)
	if m := u / uint64(time.Minute); m > 0 {
		b = strconv.AppendUint(b, m, 10)
		b = append(b, 'M')
	}
	u %= uint64(time.Minute)
	if u > 0 {
		b = strconv.AppendUint(b, u/uint64(time.Second), 10)
		if ns := u % uint64(time.Second); ns > 0 {
			frac := strconv.AppendUint(nil, ns+uint64(time.Second), 10)[1:] // 9 digits, zero-padded
			b = append(b, '.')
			b = append(b, strings.TrimRight(string(frac), "0")...)
		}
		b = append(b, 'S')
	}
	return string(b)
}
