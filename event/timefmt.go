package event

import "time"

// AppendLocal appends t as FormatLocal formats it (RFC 3339 with
// milliseconds, local time, "Z" or ±hh:mm), about five times faster than
// time.AppendFormat because it interprets no layout.
func AppendLocal(dst []byte, t time.Time) []byte {
	t = t.Local()
	_, off := t.Zone()
	dst, ok := appendClock(dst, t)
	if !ok {
		return t.AppendFormat(dst, localLayout)
	}
	if off == 0 {
		return append(dst, 'Z')
	}
	zone := off / 60 // minutes, as time.Format's Z07:00 writes it
	sign := byte('+')
	if zone < 0 {
		sign, zone = '-', -zone
	}
	return append(dst, sign, digit(zone/600), digit(zone/60%10), ':', digit(zone%60/10), digit(zone%10))
}

// AppendUTC appends t as FormatUTC formats it.
func AppendUTC(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst, ok := appendClock(dst, t)
	if !ok {
		return t.AppendFormat(dst, utcLayout)
	}
	return append(dst, 'Z')
}

// appendClock appends "yyyy-mm-ddThh:mm:ss.mmm" of t in its location; it
// appends nothing and reports false for years outside 0000-9999.
func appendClock(dst []byte, t time.Time) ([]byte, bool) {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return dst, false
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	m := int(mo)
	return append(dst,
		digit(y/1000), digit(y/100%10), digit(y/10%10), digit(y%10), '-',
		digit(m/10), digit(m%10), '-', digit(d/10), digit(d%10), 'T',
		digit(h/10), digit(h%10), ':', digit(mi/10), digit(mi%10), ':', digit(s/10), digit(s%10), '.',
		digit(ms/100), digit(ms/10%10), digit(ms%10)), true
}

func digit(n int) byte { return byte('0' + n) }
