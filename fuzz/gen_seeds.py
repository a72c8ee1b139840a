#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/<target>/ (run from anywhere).

Valid encodings of every message (layouts from protocol/src/{frame,handshake,console}.rs),
the real SEV-SNP reports and certificates from tests/data/snp/, and example policies.
Deterministic: running it again rewrites the same files.
"""

import base64
import pathlib
import shutil
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
SNP = FUZZ.parent / "tests" / "data" / "snp"
CORPUS = FUZZ / "corpus"


def data(name):
    return (SNP / name).read_bytes()


def pem_ders(name):
    """Every certificate of a PEM file, as DER."""
    text = data(name).decode()
    out = []
    for block in text.split("-----BEGIN CERTIFICATE-----")[1:]:
        body = block.split("-----END CERTIFICATE-----")[0]
        out.append(base64.b64decode("".join(body.split())))
    return out


def report_milan_v2():
    return bytes.fromhex("".join(data("report_milan.hex").decode().split()))


# --- frames (protocol/src/frame.rs): [type u8][len u32 BE][payload] ---
def frame(kind, payload):
    return struct.pack(">BI", kind, len(payload)) + payload


def u16b(b):
    return struct.pack(">H", len(b)) + b


def hello(version, nonce):
    return frame(0x01, struct.pack(">H", version) + nonce)


def evidence(tee, report, certs, key, sig):
    p = struct.pack(">H", tee) + struct.pack(">I", len(report)) + report + bytes([len(certs)])
    for kind, der in certs:
        p += bytes([kind]) + u16b(der)
    return frame(0x02, p + u16b(key) + u16b(sig))


def abort(reason):
    return frame(0x03, u16b(reason.encode()))


PROCEED = frame(0x04, b"")

VCEK, VLEK, ASK, ASVK, ARK = 1, 2, 3, 4, 5
SEV_SNP, TDX, SIMULATED = 1, 2, 0xFF01

# (report, [(kind, der)]) per real vector, in the order of fuzz/src/lib.rs CHAINS.
MILAN_ASK = pem_ders("milan_ask.pem")[0]
MILAN_BUNDLE = pem_ders("trustee_milan_ask_ark_asvk.pem")  # ASK, ARK, ASVK
CHAINS = [
    (data("milan_attestation_report.bin"), [(VCEK, pem_ders("milan_vcek.pem")[0]), (ASK, MILAN_ASK)]),
    (data("genoa_attestation_report.bin"), [(VCEK, pem_ders("genoa_vcek.pem")[0]), (ASK, pem_ders("genoa_ask.pem")[0])]),
    (data("turin_attestation_report.bin"), [(VCEK, pem_ders("turin_vcek.pem")[0]), (ASK, pem_ders("turin_ask.pem")[0])]),
    (report_milan_v2(), [(VCEK, data("vcek_milan.der")), (ASK, MILAN_ASK)]),
    (data("trustee_test-report.bin"), [(VCEK, data("trustee_test-vcek.der")), (ASK, MILAN_ASK)]),
    (data("trustee_test-vlek-report.bin"), [(VLEK, data("trustee_test-vlek.der")), (ASVK, MILAN_BUNDLE[2])]),
]
KEY, SIG = bytes(range(32)), bytes(range(64))


def seeds_handshake():
    small = evidence(SEV_SNP, b"\xab" * 16, [(VCEK, b"\x30\x03\x02\x01\x00"), (0x77, b"")], KEY, SIG)
    milan_report, milan_certs = CHAINS[0]
    return {
        "hello": hello(1, b"\x11" * 32),
        "hello_v2": hello(2, bytes(range(32))),
        "proceed": PROCEED,
        "abort": abort("measurement: not allowed"),
        "abort_utf8": abort("caf\u00e9 \u2192 \U0001f512"),
        "evidence_small": small,
        "evidence_empty": evidence(TDX, b"", [], b"", b""),
        "evidence_milan": evidence(SEV_SNP, milan_report, milan_certs[:1], KEY, SIG),
        "stream": hello(1, b"\x22" * 32) + small + abort("x") + PROCEED,
    }


def seeds_console():
    def console(kind, payload):
        return frame(kind, payload)

    token = bytes(range(1, 33))
    data_ = console(0x10, b"echo ok\r\n\x1b[1;31mred\x1b[0m")
    resize = console(0x11, struct.pack(">HH", 80, 24))
    attach = console(0x12, bytes(32) + struct.pack(">Q", 0))
    info = console(0x13, token + struct.pack(">QQ", 17, 1 << 40))
    exit_ = console(0x14, struct.pack(">i", -9))
    return {
        "data": data_,
        "data_empty": console(0x10, b""),
        "resize": resize,
        "attach_new": attach,
        "attach_token": console(0x12, token + struct.pack(">Q", 4096)),
        "session_info": info,
        "exit": exit_,
        "stream": attach + info + data_ + resize + data_ + exit_,
        # Found by fuzzing: a zero-size Resize, which the encoder refuses.
        "regress_resize_zero": bytes.fromhex("1100004004"),
    }


# --- console_session_ops: `Arbitrary` encodings of fuzz_targets/console_session_ops.rs ---
def arb_variant(index, count):
    """The u32 that derive(Arbitrary) maps to variant `index` of `count`."""
    return struct.pack("<I", -(-(index << 32) // count))


OPS = ["Attach", "Drop", "Pump", "Ack", "Type", "Input", "Resize", "Output", "Exit", "Linger", "HangUp"]
COUNTERS = ["Honest", "Stale", "Future", "Zero"]


def op(name, *fields):
    """An Op: its variant, then its fields (ints as (format, value), counters as tuples)."""
    out = arb_variant(OPS.index(name), len(OPS))
    for f in fields:
        if isinstance(f, tuple) and f[0] in COUNTERS:
            out += arb_variant(COUNTERS.index(f[0]), len(COUNTERS))
            if f[0] in ("Stale", "Future"):
                out += struct.pack("<H", f[1])
        else:
            fmt, value = f
            out += struct.pack("<" + fmt, value)
    return out


def ops(scrollback, max_unacked, *steps):
    return struct.pack("<HH", scrollback, max_unacked) + b"".join(steps)


def seeds_console_session_ops():
    B, H, b = "B", "H", "?"
    return {
        "type_echo_exit": ops(
            64, 256,
            op("Type", (B, 10)), op("Input", (B, 0), (B, 4)), op("Output", (H, 100)),
            op("Pump", (B, 0), (H, 64)), op("Pump", (B, 0), (H, 64)), op("Ack", (B, 0), (H, 0), (b, False)),
            op("Exit", ("b", 0)), op("Pump", (B, 0), (H, 64)), op("Pump", (B, 0), (H, 64)),
        ),
        "cut_and_reattach": ops(
            32, 128,
            op("Output", (H, 300)), op("Pump", (B, 0), (H, 100)), op("Ack", (B, 0), (H, 10), (b, False)),
            op("Drop", (B, 0)), op("Output", (H, 300)), op("Attach", (B, 1), ("Honest",)),
            op("Pump", (B, 1), (H, 500)), op("Ack", (B, 1), (H, 0), (b, False)), op("Type", (B, 5)),
            op("Input", (B, 1), (B, 2)), op("Pump", (B, 1), (H, 500)),
        ),
        "stale_future_bogus": ops(
            16, 64,
            op("Output", (H, 50)), op("Pump", (B, 0), (H, 50)), op("Ack", (B, 0), (H, 0), (b, False)),
            op("Attach", (B, 1), ("Future", 3)), op("Attach", (B, 1), ("Stale", 40)),
            op("Pump", (B, 0), (H, 9)), op("Type", (B, 7)), op("Input", (B, 0), (B, 9)),
            op("Pump", (B, 1), (H, 9)), op("Ack", (B, 1), (H, 2), (b, True)), op("Attach", (B, 2), ("Zero",)),
            op("Resize", (B, 1)), op("Pump", (B, 2), (H, 100)),
        ),
        "backpressure": ops(
            8, 32,
            op("Output", (H, 1000)), op("Output", (H, 1000)), op("Pump", (B, 0), (H, 20)),
            op("Ack", (B, 0), (H, 5), (b, False)), op("Output", (H, 1000)), op("Pump", (B, 0), (H, 40)),
            op("Ack", (B, 0), (H, 0), (b, False)), op("Output", (H, 1000)),
        ),
        "linger_and_hangup": ops(
            0, 16,
            op("Drop", (B, 0)), op("Linger", (b, False)), op("Attach", (B, 0), ("Honest",)),
            op("Drop", (B, 0)), op("Linger", (b, True)), op("Attach", (B, 1), ("Honest",)), op("HangUp",),
        ),
        "broken_pty": ops(
            4, 4,
            op("Type", (B, 20)), op("Input", (B, 0), (B, 0)), op("Type", (B, 3)), op("Input", (B, 0), (B, 5)),
            op("Attach", (B, 1), ("Honest",)), op("Input", (B, 1), (B, 5)),
        ),
    }


def seeds_report():
    out = {}
    for i, (report, certs) in enumerate(CHAINS):
        assert len(report) == 1184, i
        out[f"chain{i}"] = bytes([2 * i]) + report
        out[f"chain{i}_explicit"] = bytes([2 * i | 0x10]) + report
        out[f"raw{i}"] = b"\x01" + report + certs[0][1]
    return out


def seeds_evidence():
    out = {}
    for i, (report, certs) in enumerate(CHAINS):
        out[f"chain{i}"] = evidence(SEV_SNP, report, certs, KEY, SIG)
    report, certs = CHAINS[0]
    out["simulated_label"] = evidence(SIMULATED, report, certs, KEY, SIG)
    out["with_ark"] = evidence(SEV_SNP, report, certs + [(ARK, MILAN_BUNDLE[1])], KEY, SIG)
    out["no_certs"] = evidence(SEV_SNP, report, [], KEY, SIG)
    return out


def cert_table(entries):
    """protocol/src/snp/certtable.rs encode_cert_table."""
    header = (len(entries) + 1) * 24
    table, blob = bytearray(header), b""
    for i, (guid, der) in enumerate(entries):
        table[i * 24 : i * 24 + 16] = bytes.fromhex(guid)
        table[i * 24 + 16 : i * 24 + 24] = struct.pack("<II", header + len(blob), len(der))
        blob += der
    return bytes(table) + blob


G_ARK, G_ASK = "c0b406a4a80349529743" "3fb6014cd0ae", "4ab7b379bbac4fe4a02f" "05aef327c782"
G_VCEK, G_VLEK = "63da758de6644564adc5" "f4b93be8accd", "a8074bc2a25a483eaae6" "39c045a0b8a1"


def seeds_cert_table():
    vcek = pem_ders("milan_vcek.pem")[0]
    return {
        "empty": bytes(24),
        "vcek_ask_ark": cert_table([(G_VCEK, vcek), (G_ASK, MILAN_BUNDLE[0]), (G_ARK, MILAN_BUNDLE[1])]),
        "vlek_unknown": cert_table([(G_VLEK, b"vlek"), ("07" * 16, b"other"), (G_ASK, b"ask")]),
        "one": cert_table([(G_VCEK, b"one")]),
    }


M = "5feee30d6d7e1a29f403d70a4198237ddfb13051a2d6976439487c609388ed7f98189887920ab2fa0096903a0c23fca1"


def seeds_policy():
    return {
        "empty": b"",
        "design": f"""measurements = ["{M}"]
vmpl = 0
allow_debug = false
allow_migration_agent = false
min_tcb = {{ bootloader = 0, tee = 0, snp = 0, microcode = 0, fmc = 0 }}
min_guest_svn = 0
host_data = "{'ab' * 32}"
trusted_roots = ["sim/ark.pem"]
""".encode(),
        "full": f"""measurements = ["{M}", "{'00' * 48}"]
vmpl = 3
allow_debug = true
allow_migration_agent = true
allow_smt = false
require_single_socket = true
min_guest_svn = 4294967295
host_data = "{'0F' * 32}"
family_ids = ["{'01' * 16}"]
image_ids = ["{'02' * 16}"]
id_key_digests = ["{'03' * 48}"]
author_key_digests = ["{'04' * 48}"]
chip_ids = ["{'05' * 64}"]
trusted_roots = ["sim/ark.pem", "roots/\u00e9t\u00e9 \\"q\\".pem"]

[min_abi]
major = 1
minor = 55

[min_tcb]
bootloader = 255
tee = 1
snp = 22
microcode = 213
fmc = 0
""".encode(),
        "bad_vmpl": b"vmpl = 4\n",
        "unknown_key": b"alow_debug = true\n",
    }


TDX_DATA = FUZZ.parent / "tests" / "data" / "tdx"


def seeds_tdx_quote():
    names = ["dcapqvl_tdx_quote", "dcapqvl_tdx_quote_outdated", "gotdx_tdx_prod_quote_SPR_E4.dat",
             "gotdx_quote_v5_sample.dat"]
    return {name: (TDX_DATA / name).read_bytes() for name in names}


def seeds_tdx_collateral():
    return {name: (TDX_DATA / name).read_bytes() for name in
            ["dcapqvl_tdx_quote_collateral.json", "dcapqvl_tdx_quote_outdated_collateral.json",
             "gotdx_sample_tcbInfo_response", "gotdx_sample_qeIdentity_response"]}


def seeds_tdx_tcb_levels():
    import json
    out = {}
    sgx = bytes([3, 3, 2, 2, 4, 1, 0, 5] + [0] * 8)
    tee = bytes([3, 1, 2] + [0] * 13)
    for name in ["dcapqvl_tdx_quote_collateral.json", "dcapqvl_tdx_quote_outdated_collateral.json"]:
        info = json.loads((TDX_DATA / name).read_text())["tcb_info"].encode()
        out[name] = sgx + struct.pack("<H", 13) + tee + info
    for name in ["gotdx_sample_tcbInfo_response", "gotdx_sample_tcbinfo_response_v5"]:
        info = json.dumps(json.loads((TDX_DATA / name).read_text())["tcbInfo"]).encode()
        out[name] = bytes([5] * 16) + struct.pack("<H", 11) + bytes([5, 0, 2] + [0] * 13) + info
    return out


def main():
    targets = {
        "tdx_quote_verify": seeds_tdx_quote(),
        "tdx_collateral": seeds_tdx_collateral(),
        "tdx_tcb_levels": seeds_tdx_tcb_levels(),
        "handshake_decode": seeds_handshake(),
        "console_decode": seeds_console(),
        "report_verify": seeds_report(),
        "evidence_verify": seeds_evidence(),
        "cert_table": seeds_cert_table(),
        "policy_parse": seeds_policy(),
        "console_session_ops": seeds_console_session_ops(),
    }
    for target, seeds in targets.items():
        d = CORPUS / target
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for name, blob in seeds.items():
            (d / name).write_bytes(blob)
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"wrote {sum(len(s) for s in targets.values())} seeds, {total} bytes, under {CORPUS}")


if __name__ == "__main__":
    main()
