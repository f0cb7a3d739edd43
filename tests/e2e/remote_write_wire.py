"""Prometheus remote_write 1.0 bodies built by hand: a `prometheus.WriteRequest` protobuf in the snappy block
format, without a protobuf or snappy library.

The snappy encoder emits only literal elements, which every snappy decoder must accept
(format_description.txt of google/snappy: a varint of the uncompressed length, then elements; a literal's tag byte
holds its length − 1 in the upper six bits, or 60/61 meaning one/two little-endian length bytes follow).
"""

from __future__ import annotations

import struct


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _label(name: str, value: str) -> bytes:
    return _length_delimited(1, name.encode()) + _length_delimited(2, value.encode())


def _sample(timestamp_ms: int, value: float) -> bytes:
    # Sample { double value = 1; int64 timestamp = 2; }
    return _varint(1 << 3 | 1) + struct.pack("<d", value) + _varint(2 << 3 | 0) + _varint(timestamp_ms)


def encode_write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """`WriteRequest { repeated TimeSeries timeseries = 1; }`, each `TimeSeries { labels = 1; samples = 2; }`.

    Labels are written sorted by name, as Prometheus sends them.
    """
    body = bytearray()
    for labels, samples in series:
        timeseries = b"".join(_length_delimited(1, _label(k, v)) for k, v in sorted(labels.items()))
        timeseries += b"".join(_length_delimited(2, _sample(t, v)) for t, v in samples)
        body += _length_delimited(1, timeseries)
    return bytes(body)


def snappy_block_encode(data: bytes) -> bytes:
    """Snappy block format made of literals only (valid, just not smaller)."""
    out = bytearray(_varint(len(data)))
    for offset in range(0, len(data), 65536):
        chunk = data[offset:offset + 65536]
        length_minus_one = len(chunk) - 1
        if length_minus_one < 60:
            out.append(length_minus_one << 2)
        elif length_minus_one < 256:
            out += bytes([60 << 2, length_minus_one])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", length_minus_one)
        out += chunk
    return bytes(out)


def remote_write_body(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    return snappy_block_encode(encode_write_request(series))


REMOTE_WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
REMOTE_WRITE_CONTENT_TYPE = "application/x-protobuf"


def decode_rpc_status_message(body: bytes) -> str:
    """The `message` (field 2) of a protobuf `google.rpc.Status`; empty if absent."""
    position = 0
    while position < len(body):
        key, position = _read_varint(body, position)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = _read_varint(body, position)
        elif wire_type == 2:
            length, position = _read_varint(body, position)
            payload = body[position:position + length]
            position += length
            if field == 2:
                return payload.decode("utf-8", errors="replace")
        else:
            raise ValueError(f"unexpected wire type {wire_type} in google.rpc.Status")
    return ""


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(10):
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    raise ValueError("varint too long")
