#!/usr/bin/env python3
"""Look through everything the host side of a tests/vm/run boot recorded.

clean: the serial port's file, QEMU's own output, the capture of the guest's network
interface (QEMU filter-dump: every frame between the guest and the host's user-mode
network) and the QEMU monitor's replies must hold none of the strings typed into the
guest, in plain text, hex, base64 or UTF-16; the capture must show the sessions'
TLS (its ALPN names) so we know it saw them; and the monitor must fail to dump a
screen (-vga none: there is no display to dump).

leaky (the control): the serial file must show the guest's login prompt, i.e. the
same look at the same file does see a getty the guest exposes on ttyS0.
"""
import argparse
import base64
import pathlib
import sys


def encodings(secret: str):
    raw = secret.encode()
    yield "plain", raw
    yield "hex", raw.hex().encode()
    yield "HEX", raw.hex().upper().encode()
    yield "utf-16", secret.encode("utf-16-le")
    for shift in range(3):  # base64 of the secret at any alignment in a longer stream
        enc = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 : -4]
        yield f"base64+{shift}", enc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True, choices=["clean", "leaky"])
    ap.add_argument("--dir", required=True, type=pathlib.Path)
    ap.add_argument("--no-monitor", action="store_true",
                    help="no monitor was asked for a screen (tests/vm/luks: no display at all)")
    ap.add_argument("--alpn", action="append",
                    help="channels the capture must show (default: console and display)")
    ap.add_argument("secrets", nargs="*")
    a = ap.parse_args()
    d = a.dir
    problems = []
    serial = (d / "serial.log").read_bytes() if (d / "serial.log").exists() else b""
    if a.variant == "leaky":
        if b"login:" in serial:
            print(f"serial.log ({len(serial)} bytes) shows the leaky guest's login prompt: the host sees it")
            return 0
        print(f"serial.log ({len(serial)} bytes) does not show the getty on ttyS0: the control failed")
        return 1

    artifacts = ["serial.log", "qemu.out", "net.pcap", "chardevs.txt", "screendump.txt", "screendump.ppm"]
    seen = {}
    for name in artifacts:
        p = d / name
        if p.exists():
            seen[name] = p.read_bytes()
    for name, data in seen.items():
        for secret in a.secrets:
            for how, needle in encodings(secret):
                if needle and needle in data:
                    problems.append(f"{secret!r} ({how}) found in {name}")
    pcap = seen.get("net.pcap", b"")
    for alpn in [x.encode() for x in (a.alpn or ["cvmc/1/console", "cvmc/1/display"])]:
        if alpn not in pcap:
            problems.append(f"the capture never saw {alpn.decode()} (is it capturing?)")
    dump = seen.get("screendump.txt", b"").decode(errors="replace")
    if not a.no_monitor and ("screendump.ppm" in seen or "rror" not in dump):
        problems.append(f"the monitor dumped a screen: {dump.strip()!r}")
    chardevs = seen.get("chardevs.txt", b"").decode(errors="replace")
    print("chardevs:", " ".join(l.strip() for l in chardevs.splitlines() if ":" in l and "(qemu)" not in l))
    print("screendump:", " ".join(l.strip() for l in dump.splitlines() if "rror" in l))
    for p in problems:
        print("FOUND:", p)
    if problems:
        print(f"{len(problems)} trace(s) of the session on the host side")
        return 1
    sizes = ", ".join(f"{n} {len(b)} B" for n, b in seen.items())
    shown = "the console channel" if a.no_monitor else "both TLS channels; no screen to dump"
    print(f"{len(a.secrets)} typed strings in no encoding in {sizes}; capture shows {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
