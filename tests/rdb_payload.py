"""DUMP payloads built by hand, to RESTORE forms and faults no DUMP makes: Redis's CRC-64,
the RDB string encodings (lengths of every width, int8/16/32, LZF) and a small LZF writer
(greedy, back-references included), so that tests do not depend on either server's DUMP.
Layout (Redis 7.0): <type byte> <object> <RDB version u16 LE> <CRC-64 of all before, u64 LE>.
"""
import struct

RDB_VERSION = 10
_POLY = 0x95AC9329AC4BC9B5  # Jones' polynomial 0xad93d23594c935a9, bits reversed
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc64(data, crc=0):
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def with_footer(body, version=RDB_VERSION):
    """body (type byte and object) + version + CRC-64."""
    b = bytes(body) + struct.pack("<H", version)
    return b + struct.pack("<Q", crc64(b))


def rdb_len(n, width=None):
    """An RDB length: 6, 14, 32 or 64 bits (width None: the shortest, as Redis writes)."""
    if width is None:
        width = 6 if n < 64 else 14 if n < 16384 else 32 if n <= 0xFFFFFFFF else 64
    if width == 6:
        return bytes([n])
    if width == 14:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if width == 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def raw_string(value, width=None):
    return rdb_len(len(value), width) + value


def int_string(n):
    """int8/16/32 encodings (0xC0-0xC2)."""
    for enc, fmt in ((0, "<b"), (1, "<h"), (2, "<i")):
        try:
            return bytes([0xC0 | enc]) + struct.pack(fmt, n)
        except struct.error:
            continue
    raise ValueError(f"{n} does not fit 32 bits")


def lzf_compress(data, literal_only=False):
    """Valid LZF for data: literal runs, and (unless literal_only) greedy back-references."""
    out, lit, i, last = bytearray(), bytearray(), 0, {}

    def flush():
        for k in range(0, len(lit), 32):
            chunk = lit[k:k + 32]
            out.append(len(chunk) - 1)
            out.extend(chunk)
        lit.clear()

    while i < len(data):
        ref = None if literal_only or i + 3 > len(data) else last.get(data[i:i + 3])
        if i + 3 <= len(data):
            last[data[i:i + 3]] = i
        if ref is None or i - ref - 1 > 8191:
            lit.append(data[i])
            i += 1
            continue
        n = 3
        while n < 264 and i + n < len(data) and data[ref + n] == data[i + n]:
            n += 1
        flush()
        off, ln = i - ref - 1, n - 2
        if ln < 7:
            out += bytes([(ln << 5) | (off >> 8), off & 0xFF])
        else:
            out += bytes([(7 << 5) | (off >> 8), ln - 7, off & 0xFF])
        i += n
    flush()
    return bytes(out)


def lzf_string(value, literal_only=False, declared=None):
    """An LZF-encoded string (0xC3, compressed length, length, data); declared: the
    length to claim instead of the real one."""
    c = lzf_compress(value, literal_only)
    return b"\xc3" + rdb_len(len(c)) + rdb_len(len(value) if declared is None else declared) + c


def string_payload(obj, version=RDB_VERSION):
    """A string object (one of the above) as a DUMP payload."""
    return with_footer(b"\x00" + obj, version)


def lzf_decompress(data, out_len):
    """LZF's decoder; None if data is not LZF that expands to exactly out_len bytes."""
    out, i = bytearray(), 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            run = data[i:i + ctrl + 1]
            if len(run) != ctrl + 1:
                return None
            out += run
            i += ctrl + 1
            continue
        n = ctrl >> 5
        if n == 7:
            if i >= len(data):
                return None
            n += data[i]
            i += 1
        if i >= len(data):
            return None
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        if ref < 0:
            return None
        for _ in range(n + 2):
            out.append(out[ref])
            ref += 1
    return bytes(out) if len(out) == out_len else None


def decode_string_payload(payload):
    """The string in a DUMP payload (footer checked), or None: what RESTORE would store."""
    if len(payload) < 10 or struct.unpack("<H", payload[-10:-8])[0] > RDB_VERSION or \
            struct.unpack("<Q", payload[-8:])[0] != crc64(payload[:-8]) or payload[0] != 0:
        return None
    pos = 1

    def length():
        nonlocal pos
        b = payload[pos]
        pos += 1
        kind = b >> 6
        if kind in (0, 3):
            return b & 0x3F, kind == 3
        if kind == 1:
            pos += 1
            return ((b & 0x3F) << 8) | payload[pos - 1], False
        width = {0x80: 4, 0x81: 8}[b]
        pos += width
        return int.from_bytes(payload[pos - width:pos], "big"), False

    try:
        n, encoded = length()
        if not encoded:
            value = payload[pos:pos + n]
            return value if len(value) == n else None
        if n < 3:
            width = 1 << n
            return str(int.from_bytes(payload[pos:pos + width], "little", signed=True)).encode()
        if n == 3:
            clen, _ = length()
            size, _ = length()
            return lzf_decompress(payload[pos:pos + clen], size)
    except (IndexError, KeyError):
        pass
    return None
