"""Kafka's wire primitives, written from the protocol guide (kafka.apache.org/protocol)
and the message schemas (clients/src/main/resources/common/message/*.json).

Every request and response is a size-prefixed frame: `int32 size` then `size` bytes.
Integers are big-endian; STRING is int16 length + UTF-8 (-1: null, NULLABLE_STRING);
BYTES is int32 length (-1: null); ARRAY is int32 count (-1: null). The "flexible"
versions (KIP-482) use unsigned varint lengths + 1 (COMPACT_*) and tagged fields; the
front end only decodes a flexible *header* (to answer an ApiVersions v3 probe), every
API body it serves is a non-flexible version.
"""

from __future__ import annotations

import struct

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")

# an array or string longer than this in a request is treated as garbage (the frame cap
# already bounds the bytes; this bounds the Python objects a count can make us build)
MAX_ELEMENTS = 100_000


class ProtocolError(ValueError):
    """A request that does not parse (Kafka: InvalidRequestException, the connection closes)."""


class Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0):
        self.buf = buf
        self.pos = pos

    def _take(self, n: int) -> memoryview | bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ProtocolError(f"request truncated: {n} bytes wanted at byte {self.pos} of {len(self.buf)}")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def _unpack(self, s: struct.Struct):
        if self.pos + s.size > len(self.buf):
            raise ProtocolError(f"request truncated at byte {self.pos} of {len(self.buf)}")
        v = s.unpack_from(self.buf, self.pos)[0]
        self.pos += s.size
        return v

    def int8(self) -> int:
        return self._unpack(_I8)

    def boolean(self) -> bool:
        return self._unpack(_I8) != 0

    def int16(self) -> int:
        return self._unpack(_I16)

    def int32(self) -> int:
        return self._unpack(_I32)

    def int64(self) -> int:
        return self._unpack(_I64)

    def uvarint(self) -> int:
        shift = v = 0
        while True:
            b = self._take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 28:
                raise ProtocolError("unsigned varint longer than 5 bytes")

    def nullable_string(self) -> str | None:
        n = self.int16()
        if n < 0:
            return None
        try:
            return bytes(self._take(n)).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"string is not UTF-8 at byte {self.pos}") from e

    def string(self) -> str:
        s = self.nullable_string()
        if s is None:
            raise ProtocolError(f"null where a string is required (byte {self.pos})")
        return s

    def nullable_bytes(self) -> bytes | None:
        n = self.int32()
        if n < 0:
            return None
        return bytes(self._take(n))

    def bytes_(self) -> bytes:
        b = self.nullable_bytes()
        return b"" if b is None else b

    def count(self, *, nullable: bool = False) -> int | None:
        n = self.int32()
        if n < 0:
            if nullable:
                return None
            raise ProtocolError(f"null array where one is required (byte {self.pos})")
        if n > MAX_ELEMENTS or n > len(self.buf) - self.pos:
            raise ProtocolError(f"array of {n} elements cannot fit in the {len(self.buf) - self.pos} bytes left")
        return n

    def array(self, item, *, nullable: bool = False) -> list | None:
        n = self.count(nullable=nullable)
        if n is None:
            return None
        return [item(self) for _ in range(n)]

    def tagged_fields(self) -> None:
        """Skip a flexible version's tagged fields (none is understood here)."""
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self._take(self.uvarint())

    def remaining(self) -> int:
        return len(self.buf) - self.pos


class Writer:
    __slots__ = ("out",)

    def __init__(self):
        self.out = bytearray()

    def int8(self, v: int) -> Writer:
        self.out += _I8.pack(v)
        return self

    def boolean(self, v: bool) -> Writer:
        return self.int8(1 if v else 0)

    def int16(self, v: int) -> Writer:
        self.out += _I16.pack(v)
        return self

    def int32(self, v: int) -> Writer:
        self.out += _I32.pack(v)
        return self

    def int64(self, v: int) -> Writer:
        self.out += _I64.pack(v)
        return self

    def uvarint(self, v: int) -> Writer:
        while v >= 0x80:
            self.out.append((v & 0x7F) | 0x80)
            v >>= 7
        self.out.append(v)
        return self

    def string(self, s: str | None) -> Writer:
        if s is None:
            return self.int16(-1)
        b = s.encode("utf-8")
        self.int16(len(b))
        self.out += b
        return self

    def bytes_(self, b: bytes | None) -> Writer:
        if b is None:
            return self.int32(-1)
        self.int32(len(b))
        self.out += b
        return self

    def array(self, items, write_item) -> Writer:
        if items is None:
            return self.int32(-1)
        self.int32(len(items))
        for x in items:
            write_item(self, x)
        return self

    def int32_array(self, items) -> Writer:
        return self.array(items, Writer.int32)

    def getvalue(self) -> bytes:
        return bytes(self.out)


def frame(payload: bytes) -> bytes:
    return _U32.pack(len(payload)) + payload
