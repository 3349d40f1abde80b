"""The body forms vcrpy's stubs hand over, read without consuming them (``_canonical.parse_body``).

A stub keeps a request body as its client gave it: bytes, text, a list of an iterator's chunks, or
(aiohttp) an unencoded ``json=`` value or ``data=`` form fields. :func:`joined` makes chunks bytes;
:func:`structured` stores an unencoded body as the bytes its client sends for it would be.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

JSONValue = Any

BYTES_LIKE = (bytes, bytearray, memoryview)
#: The key of a body vcrpy handed over as an object llama-vcr cannot read without consuming it
#: (an aiohttp ``Payload``, say): ``{"__object__": "module.Class"}``.
OBJECT_KEY = "__object__"


def joined(chunks: list[Any]) -> bytes | None:
    """The bytes of a chunked body as vcrpy keeps it (a list of bytes, text or byte values)."""
    if all(isinstance(chunk, BYTES_LIKE) for chunk in chunks):
        return b"".join(bytes(chunk) for chunk in chunks)
    if all(isinstance(chunk, str) for chunk in chunks):
        return "".join(chunks).encode("utf-8")
    if all(isinstance(chunk, int) and 0 <= chunk < 256 for chunk in chunks):
        return bytes(chunks)
    return None


def _field_value(value: Any) -> Any:
    """A form field's value: bytes for bytes and a seekable file (read, then rewound), else itself."""
    if isinstance(value, BYTES_LIKE):
        return bytes(value)
    if hasattr(value, "read") and getattr(value, "seekable", lambda: False)():
        position = value.tell()
        data = value.read()
        value.seek(position)
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return value


def _form(fields: list[tuple[Any, Any]], multipart: bool) -> JSONValue:
    """Form fields as a form body is stored: urlencoded text, or, with bytes or files among them
    (which a client sends as multipart), ``{"__multipart__": [{"name", "text" | "bytes"}]}``."""
    pairs = [(str(name), _field_value(value)) for name, value in fields]
    if not multipart and not any(isinstance(value, bytes) for _, value in pairs):
        return urlencode(pairs, doseq=True)
    parts = []
    for name, value in pairs:
        if not isinstance(value, bytes):
            value = str(value).encode("utf-8") if isinstance(value, (str, int, float)) else value
        if isinstance(value, bytes):
            try:
                parts.append({"name": name, "text": value.decode("utf-8")})
            except UnicodeDecodeError:
                parts.append({"name": name, "bytes": base64.b64encode(value).decode("ascii")})
        else:
            parts.append({"name": name, OBJECT_KEY: _type_name(value)})
    return {"__multipart__": parts}


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _is_fields(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(item, tuple) and len(item) == 2 for item in value)


def structured(raw: Any, content_type: str) -> JSONValue:
    """A body vcrpy handed over unencoded: aiohttp's ``json=`` value, or its ``data=`` form fields
    (a mapping, ``(name, value)`` pairs or a ``FormData``). A mapping is JSON unless the content
    type says it is a form, or it holds what JSON cannot (bytes, files)."""
    form = "x-www-form-urlencoded" in content_type
    multipart = content_type.startswith("multipart/")
    fields = getattr(raw, "_fields", None)  # aiohttp.FormData: (options, headers, value) triples
    if isinstance(fields, list) and all(isinstance(f, tuple) and len(f) == 3 for f in fields):
        named = [(options.get("name", ""), value) for options, _, value in fields]
        return _form(named, multipart or bool(getattr(raw, "is_multipart", False)))
    if isinstance(raw, (list, tuple)) and _is_fields(list(raw)):
        return _form(list(raw), multipart)
    if isinstance(raw, Mapping) and (form or multipart):
        return _form(list(raw.items()), multipart)
    if isinstance(raw, (Mapping, list, tuple, int, float)):
        try:
            return json.loads(json.dumps(raw))  # the value the JSON a client sends parses to
        except (TypeError, ValueError):
            if isinstance(raw, Mapping):
                return _form(list(raw.items()), multipart)
    return {OBJECT_KEY: _type_name(raw)}
