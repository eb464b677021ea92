#!/usr/bin/env python3
"""Writes wtmp-time64 (400-byte records, 64-bit ut_session and ut_tv, as
musl and glibc without __WORDSIZE_TIME64_COMPAT32 lay them out) from the
utmpdump text wtmp-x86_64.txt, independently of the Go encoder.

Run from collector/login/testdata: python3 gen_utmp64.py
"""
import datetime, ipaddress, re, struct

def rec(typ, pid, uid, user, line, host, addr, ts):
    t = datetime.datetime.strptime(ts.replace(",", "."), "%Y-%m-%dT%H:%M:%S.%f%z")
    sec = int(t.timestamp()); usec = t.microsecond
    a = ipaddress.ip_address(addr)
    ab = a.packed + b"\0" * (16 - len(a.packed)) if not a.is_unspecified else b"\0" * 16
    uid = uid[:4]
    b = struct.pack("<hhi32s4s32s256shhqqq16s20s",
                    typ, 0, pid, line.encode(), uid.encode(), user.encode(), host.encode(),
                    0, 0, 0, sec, usec, ab, b"")
    # <q for ut_session lands at 336 (8-aligned), ut_tv at 344, addr at 360, total 396
    b += b"\0" * (400 - len(b))
    assert len(b) == 400
    return b

out = b""
for l in open("wtmp-x86_64.txt"):
    f = re.findall(r"\[([^\]]*)\]", l)
    if len(f) != 8:
        continue
    out += rec(int(f[0]), int(f[1]), f[2], f[3].strip(), f[4].strip(), f[5].strip(), f[6].strip(), f[7])
open("wtmp-time64", "wb").write(out)
