"""Other OpenAI endpoints: moderations, image generation, text to speech and files."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib

from .common import HEX, JSON, Abort, ProviderState, Reply, Request, Route, text_of
from .openai_routes import body_of, error

_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = {
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "violence",
    "violence/graphic",
}
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac"}
_AUDIO_TYPES |= {"wav": "audio/wav", "pcm": "audio/pcm"}
_MP3_FRAME_HEADER = b"\xff\xf3\xe4\xc4"
SPEECH_BYTES = 2048


def _missing(name: str) -> Abort:
    message = f"Missing required parameter: '{name}'."
    return Abort(error(400, message, param=name, code="missing_required_parameter"))


def _moderation_result(text: str, images: bool) -> JSON:
    """Deterministic tiny scores; text containing "kill" is flagged for violence."""
    violent = "kill" in text.lower()
    scores = {}
    for category in _CATEGORIES:
        digest = hashlib.sha256(f"{category}\0{text}".encode()).digest()
        scores[category] = int.from_bytes(digest[:4], "big") / 2**32 * 1e-3
    scores["violence"] = 0.9134 if violent else scores["violence"]
    categories = {c: violent and c == "violence" for c in _CATEGORIES}
    kinds = {c: (["text", "image"] if images and c in _IMAGE_CATEGORIES else ["text"]) for c in _CATEGORIES}
    result = {"flagged": violent, "categories": categories, "category_scores": scores}
    return {**result, "category_applied_input_types": kinds}


def moderations(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A ModerationCreateResponse: one result per input string, one for a list of content parts."""
    data = body_of(request, model=False)
    raw = data.get("input")
    if raw is None:
        raise _missing("input")
    if isinstance(raw, list) and raw and all(isinstance(p, dict) for p in raw):
        has_images = any(p.get("type") == "image_url" for p in raw)
        results = [_moderation_result(text_of(raw), has_images)]
    else:
        results = [_moderation_result(str(t), False) for t in ([raw] if isinstance(raw, str) else raw)]
    model = data.get("model") or "omni-moderation-latest"
    return Reply(body={"id": "modr-" + state.rand(32, HEX), "model": model, "results": results})


def tiny_png(seed: str, size: int = 2) -> bytes:
    """A valid `size`x`size` RGB PNG filled with a colour derived from `seed`."""
    colour = hashlib.sha256(seed.encode()).digest()[:3]
    raw = (b"\x00" + colour * size) * size

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def images(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """An ImagesResponse. GPT image models always answer `b64_json`; DALL-E models honour
    `response_format` (default `url`, served by this server without auth like a signed blob URL)."""
    data = body_of(request, model=False)
    prompt = data.get("prompt")
    if not prompt:
        raise _missing("prompt")
    model = str(data.get("model") or "dall-e-2")
    gpt_image = model.startswith("gpt-image")
    as_b64 = gpt_image or data.get("response_format") == "b64_json"
    png = tiny_png(str(prompt))
    items: list[JSON] = []
    for _ in range(int(data.get("n") or 1)):
        item: JSON = {"b64_json": base64.b64encode(png).decode()} if as_b64 else {}
        if not as_b64:
            name = f"img-{state.unique(24)}.png"
            state.images[name] = png
            item["url"] = f"{state.url}/images/{name}"
        if model == "dall-e-3":
            item["revised_prompt"] = f"A picture of: {prompt}"
        items.append(item)
    body: JSON = {"created": state.timestamp(), "data": items}
    if gpt_image:
        size, quality = data.get("size") or "1024x1024", data.get("quality") or "high"
        body |= {"background": "opaque", "output_format": "png", "quality": quality, "size": size}
        details = {"image_tokens": 0, "text_tokens": len(str(prompt).split())}
        usage = {"input_tokens": details["text_tokens"], "input_tokens_details": details}
        body["usage"] = {**usage, "output_tokens": 272, "total_tokens": details["text_tokens"] + 272}
    return Reply(body=body)


def image_file(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    png = state.images.get(match.group("name"))
    if png is None:
        return Reply(404, b"The specified blob does not exist.", "text/plain")
    return Reply(body=png, content_type="image/png")


def speech(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """Binary audio (chunked, like the real API): deterministic pseudo-random bytes from the input."""
    data = body_of(request)
    for name in ("input", "voice"):
        if not data.get(name):
            raise _missing(name)
    audio_format = str(data.get("response_format") or "mp3")
    if audio_format not in _AUDIO_TYPES:
        raise Abort(error(400, f"Invalid value: '{audio_format}'.", param="response_format"))
    block = hashlib.sha256(f"{data['model']}\0{data['voice']}\0{data['input']}".encode()).digest()
    out = bytearray(_MP3_FRAME_HEADER if audio_format == "mp3" else b"")
    while len(out) < SPEECH_BYTES:
        out += block
        block = hashlib.sha256(block).digest()
    return Reply(body=bytes(out[:SPEECH_BYTES]), content_type=_AUDIO_TYPES[audio_format], chunked=True)


def multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (filename or None, content)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary is None:
        raise Abort(error(400, "Invalid multipart/form-data request: no boundary."))
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        disposition = next((x for x in lines if x.lower().startswith("content-disposition:")), "")
        params = dict(re.findall(r';\s*(\w+)="([^"]*)"', disposition))
        if "name" in params:
            fields[params["name"]] = (params.get("filename"), content.removesuffix(b"\r\n"))
    return fields


def upload(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A FileObject for a multipart upload of `file` with `purpose` (and `expires_after[...]`)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise Abort(error(400, "Invalid Content-Type header, expected multipart/form-data."))
    fields = multipart(request.body, content_type)
    for name in ("file", "purpose"):
        if name not in fields:
            raise _missing(name)
    filename, content = fields["file"]
    purpose = fields["purpose"][1].decode()
    if purpose not in _PURPOSES:
        raise Abort(error(400, f"'{purpose}' is not one of {list(_PURPOSES)} - 'purpose'", param="purpose"))
    created = state.timestamp()
    seconds = fields.get("expires_after[seconds]", (None, b""))[1]
    obj: JSON = {"object": "file", "id": "file-" + state.unique(22), "purpose": purpose}
    obj |= {"filename": filename or "upload", "bytes": len(content), "created_at": created}
    obj |= {"expires_at": created + int(seconds) if seconds else None, "status": "processed"}
    obj["status_details"] = None
    state.files[obj["id"]] = (obj, content)
    return Reply(body=obj)


def _file(state: ProviderState, match: re.Match[str]) -> tuple[JSON, bytes]:
    found = state.files.get(match.group("id"))
    if found is None:
        raise Abort(error(404, f"No such File object: {match.group('id')}", param="id"))
    return found


def retrieve_file(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    return Reply(body=_file(state, match)[0])


def file_content(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    return Reply(body=_file(state, match)[1], content_type="application/octet-stream")


def delete_file(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    obj = _file(state, match)[0]
    state.files.pop(obj["id"], None)
    return Reply(body={"object": "file", "deleted": True, "id": obj["id"]})


def list_files(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    data = [obj for obj, _ in reversed(state.files.values())]
    ends = {"first_id": data[0]["id"], "last_id": data[-1]["id"]} if data else {}
    return Reply(body={"object": "list", "data": data, **ends, "has_more": False})


ROUTES: list[Route] = [
    ("POST", r"/moderations", moderations),
    ("POST", r"/images/generations", images),
    ("POST", r"/audio/speech", speech),
    ("POST", r"/files", upload),
    ("GET", r"/files", list_files),
    ("GET", r"/files/(?P<id>[^/]+)", retrieve_file),
    ("GET", r"/files/(?P<id>[^/]+)/content", file_content),
    ("DELETE", r"/files/(?P<id>[^/]+)", delete_file),
]
#: Routes served without auth on the raw path (image URLs, like pre-signed blob URLs).
PUBLIC_ROUTES: list[Route] = [("GET", r"/images/(?P<name>img-[^/]+\.png)", image_file)]
