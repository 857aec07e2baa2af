#!/usr/bin/env python3
"""Writes the seeds of fuzz_http_request and fuzz_websocket_frames (real protocol examples).

The WebSocket seeds are binary (masked client frames), so they are generated rather than
hand-written: run `tests/fuzz/make_seeds.py` from the repository root after changing this file.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as out:
        out.write(data)


def request(method, target, headers, body=b""):
    lines = [f"{method} {target} HTTP/1.1", "Host: voice.example.com"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() == "transfer-encoding" for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


FORM = "application/x-www-form-urlencoded"
BEARER = ("Authorization", "Bearer fuzz-api-token-7c1e0f3a9b")
JSON_TYPE = ("Content-Type", "application/json")
WEBHOOK_FORM = (b"AccountSid=AC0123456789abcdef0123456789abcdef&ApiVersion=2010-04-01"
                b"&CallSid=CA5a1e0f3a9b7c1e0f3a9b7c1e0f3a9b7c&CallStatus=ringing"
                b"&Called=%2B14155550100&Caller=%2B14155550199&Direction=inbound"
                b"&From=%2B14155550199&To=%2B14155550100&CallerName=Jane+Doe")

HTTP = {
    "webhook_post": request("POST", "/incoming-call",
                            [("Content-Type", FORM),
                             ("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                             ("I-Twilio-Idempotency-Token", "6f1c2d3e-1")], WEBHOOK_FORM),
    "webhook_get": request("GET", "/incoming-call?CallSid=CA1&From=%2B14155550199&To=%2B1415555"
                           "0100", [("X-Twilio-Signature", "c2lnbmF0dXJl")]),
    "dial": request("POST", "/calls", [BEARER, JSON_TYPE], json.dumps(
        {"to": "+14155550100", "instructions": "Confirm the booking.", "voice": "cedar",
         "metadata": {"crm_id": 42}}).encode()),
    "dial_no_token": request("POST", "/calls", [JSON_TYPE], b'{"to":"+442079460000"}'),
    "say": request("POST", "/calls/CA5a1e0f3a9b/say", [BEARER, JSON_TYPE],
                   b'{"text":"One moment, please."}'),
    "transfer": request("POST", "/calls/CA5a1e0f3a9b/transfer", [BEARER, JSON_TYPE],
                        b'{"to":"+14155550123"}'),
    "hangup": request("POST", "/calls/CA5a1e0f3a9b/hangup", [BEARER]),
    "list": request("GET", "/calls", [BEARER]),
    "show": request("GET", "/calls/CA5a1e0f3a9b", [("authorization", "Bearer wrong")]),
    "recording": request("GET", "/calls/CA5a1e0f3a9b/recordings/stereo.wav", [BEARER]),
    "status_callback": request("POST", "/call-status",
                               [("Content-Type", FORM), ("X-Twilio-Signature", "c2ln")],
                               b"CallSid=CA5a1e0f3a9b&CallStatus=in-progress&SequenceNumber=2"
                               b"&Timestamp=Mon%2C+16+Aug+2010+03%3A45%3A01+%2B0000"),
    "upgrade": request("GET", "/media-stream",
                       [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                        ("Sec-WebSocket-Version", "13"),
                        ("X-Twilio-Signature", "c2lnbmF0dXJl")]),
    "chunked_say": request("POST", "/calls/CA1/say",
                           [BEARER, JSON_TYPE, ("Transfer-Encoding", "chunked")],
                           b"7\r\n{\"text\"\r\n9\r\n:\"hello\"}\r\n0\r\n\r\n"),
    "healthz": request("GET", "/healthz", [("Connection", "close")]),
}
HTTP["pipelined"] = HTTP["healthz"].replace(b"Connection: close\r\n", b"") + HTTP["say"]

for name, data in HTTP.items():
    write("fuzz_http_request", name, data)


def frame(opcode, payload, fin=True, mask=b"\x37\xfa\x21\x3d"):
    """One client frame: always masked (RFC 6455 §5.3)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def text(message):
    return frame(0x1, json.dumps(message, separators=(",", ":")).encode())


STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA5a1e0f3a9b7c1e0f3a9b7c1e0f3a9b7c"
connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
start = {"event": "start", "sequenceNumber": "1", "streamSid": STREAM,
         "start": {"accountSid": "AC0123456789abcdef0123456789abcdef", "streamSid": STREAM,
                   "callSid": CALL, "tracks": ["inbound"],
                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                   "channels": 1},
                   "customParameters": {"From": "+14155550199", "token": "1767225900.abc"}}}
media = {"event": "media", "sequenceNumber": "2", "streamSid": STREAM,
         "media": {"track": "inbound", "chunk": "1", "timestamp": "5",
                   "payload": "/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+"}}
mark = {"event": "mark", "sequenceNumber": "3", "streamSid": STREAM, "mark": {"name": "a1"}}
stop = {"event": "stop", "sequenceNumber": "4", "streamSid": STREAM,
        "stop": {"accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": CALL}}
close_normal = frame(0x8, struct.pack(">H", 1000) + b"bye")

WS = {
    # mode byte: 0 = whole reads, peer closes TCP at the end; 4 = reads of 5 bytes; 0x80 = the
    # peer falls silent: see fuzz_websocket_frames.cpp.
    "call": b"\x00" + text(connected) + text(start) + text(media) + text(mark) + text(stop)
            + close_normal,
    "media_in_pieces": b"\x04" + text(start) + text(media) + text(media),
    "fragmented_media": b"\x00" + frame(0x1, json.dumps(media).encode()[:20], fin=False)
                        + frame(0x9, b"ping") + frame(0x0, json.dumps(media).encode()[20:]),
    "ping_pong_close": b"\x00" + frame(0x9, b"hi") + frame(0xA, b"") + close_normal,
    "binary_frame": b"\x00" + frame(0x2, b"\x00\xff" * 80),
    "silent_after_start": b"\x80" + text(connected) + text(start),
    "extended_length": b"\x00" + text(dict(media, media=dict(media["media"],
                                                              payload="/v7+" * 40))),
    "invalid_utf8": b"\x00" + frame(0x1, b'{"event":"\xc3\x28"}'),
}
for name, data in WS.items():
    write("fuzz_websocket_frames", name, data)
