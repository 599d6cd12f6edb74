#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the repository's own texts.

    seeds.py SOURCE_ROOT OUTDIR STAMP

OUTDIR/dispatch        every request example of docs/protocol.md (its
                       lurk-message blocks), alone and pipelined in pairs
OUTDIR/reader          the same messages behind three control bytes
OUTDIR/config          docs/lurkd.conf.example and a short config
OUTDIR/tls13_handshake the RFC 8448 handshake messages of the vectors,
                       behind the byte that selects their parser
OUTDIR/tls12_handshake the client_certificate_verify example of
                       docs/protocol.md: its handshake_messages, and the payload
"""
import json
import os
import re
import sys

root, out, stamp = sys.argv[1:4]


def write(sub, name, data):
    d = os.path.join(out, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


doc = open(os.path.join(root, "docs", "protocol.md")).read()
messages = [bytes.fromhex("".join(b.split()))
            for b in re.findall(r"```lurk-message\n(.*?)\n```", doc, re.S)]
requests = [m for m in messages if len(m) >= 16 and m[3] == 0]
for i, m in enumerate(requests):
    write("dispatch", "request-%02d" % i, m)
    write("dispatch", "pipelined-%02d" % i, m + requests[(i + 1) % len(requests)])
    write("reader", "request-%02d" % i, bytes([0xff, 0x3f, i]) + m + m[: len(m) // 2])

# tls12 client_certificate_verify (designation 1, type 129): payload, then the messages.
for i, m in enumerate(m for m in requests if m[0] == 1 and m[2] == 129):
    write("tls12_handshake", "payload-%d" % i, m[16:])
    write("tls12_handshake", "messages-%d" % i, m[16 + 10:])

write("config", "example", open(os.path.join(root, "docs", "lurkd.conf.example"), "rb").read())
write("config", "short", b"[lurkd]\nworkers = 2\n[listener.l]\naddress = unix:/tmp/l.sock\n"
      b"[client.c]\nidentity = uid:0\n[key.k]\nsource = k.pem\nclients = c\n"
      b"[tls13]\nmax_tickets = 2\n[psk.p]\nidentity = p\nsecret = 0011\nclients = *\n")
write("config", "metrics", b"[lurkd]\n[listener.l]\naddress = unix:/tmp/l.sock\n"
      b"[metrics]\naddress = 127.0.0.1:9273\nmax_connections = 4\ntimeout = 5s\n")

vectors = json.load(open(os.path.join(root, "tests", "vectors", "data", "rfc8448-simple-1rtt.json")))
selector = {"client_hello": 0, "server_hello": 1, "encrypted_extensions": 2,
            "certificate_request": 3, "certificate": 4}
for name, hexmsg in vectors.get("messages", {}).items():
    if name in selector and isinstance(hexmsg, str):
        msg = bytes.fromhex(hexmsg)
        # EncryptedExtensions, CertificateRequest and Certificate parsers take the body.
        body = msg if selector[name] < 2 else msg[4:]
        write("tls13_handshake", name, bytes([selector[name]]) + body)

open(stamp, "w").close()
