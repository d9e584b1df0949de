"""pympp behind the MPP conformance-harness operations, as a line protocol.

Used by ``tests/pympp_differential.rs``. Run it with the Python that has pympp
installed (``.tools/venv/bin/python``, set up by ``scripts/test``).

Protocol: each line on stdin is one JSON request ``{"op": OP, "input": ...}``;
for each, exactly one JSON line is written to stdout and flushed:
``{"ok": true, "value": ...}`` or
``{"ok": false, "error": {"type": T, "message": M}}``.
The process runs until stdin is closed.

Operations and value shapes follow the conformance harness ABI:

* challenge.parse  {"header"} -> challenge
* challenge.format challenge  -> {"header"}
* credential.parse {"header"} -> credential
* credential.format credential -> {"header"}
* receipt.parse    {"header"} -> receipt
* receipt.format   receipt    -> {"header"}
* base64url.encode {"text"}   -> {"text"}
* base64url.decode {"text"}   -> {"text"}
* challenge.id     {secretKey, realm, method, intent, request, expires?,
                    digest?, opaque?, description?} -> {"id"}

challenge: {id, realm, method, intent, request (decoded object), expires?,
digest?, description?, opaque? (the base64url wire string)}.
credential: {challenge (as above, request decoded), payload, source?}.
receipt: {status, method, timestamp (string), reference, externalId?, extra?}.
Absent optional fields are left out rather than set to null.

Where pympp keeps only a decoded form (challenge ``opaque`` as a dict, receipt
``timestamp`` as a datetime), the wire string reported here is the one pympp
itself would write for that value: ``canonical_b64url(opaque)`` and
``timestamp.isoformat()`` with ``+00:00`` shown as ``Z``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from datetime import datetime
from typing import Any, Callable

import mpp
from mpp import Challenge, ChallengeEcho, Credential, ParseError, Receipt
from mpp._canonical import canonical_b64url
from mpp.client.transport import _payment_challenges

# The error type the harness allows for each operation.
ERROR_TYPE = {
    "challenge.parse": "parse_error",
    "credential.parse": "parse_error",
    "receipt.parse": "parse_error",
    "challenge.format": "format_error",
    "credential.format": "format_error",
    "receipt.format": "format_error",
    "base64url.encode": "encoding_error",
    "base64url.decode": "encoding_error",
    "challenge.id": "generation_error",
}


class OpFailure(Exception):
    """An input this peer refuses before handing it to pympp."""


def _unb64url(text: str) -> bytes:
    """Decodes base64url text the way pympp does: restore padding, then decode."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object_from_b64url(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64url(text))
    except (binascii.Error, ValueError) as error:
        raise OpFailure(f"{what} is not base64url JSON: {error}") from None
    if not isinstance(value, dict):
        raise OpFailure(f"{what} is not a JSON object")
    return value


def _opaque_dict(wire: str | None) -> dict[str, Any] | None:
    """The dict pympp holds for an opaque wire string.

    pympp re-encodes opaque canonically whenever it writes or hashes it, so a
    wire string that is not already canonical could not be reproduced: refuse
    it instead of silently answering for a different value.
    """
    if wire is None:
        return None
    value = _json_object_from_b64url(wire, "opaque")
    if canonical_b64url(value) != wire:
        raise OpFailure("opaque is not canonical base64url JSON; pympp would re-encode it")
    return value


def _put_optional(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _challenge_value(challenge: Challenge) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": challenge.id,
        "realm": challenge.realm,
        "method": challenge.method,
        "intent": challenge.intent,
        "request": challenge.request,
    }
    _put_optional(value, "expires", challenge.expires)
    _put_optional(value, "digest", challenge.digest)
    _put_optional(value, "description", challenge.description)
    if challenge.opaque is not None:
        value["opaque"] = canonical_b64url(challenge.opaque)
    return value


def challenge_parse(data: dict[str, Any]) -> dict[str, Any]:
    # A header line may hold several challenges (of any scheme); pympp's client
    # splits the line first and then parses each Payment challenge alone.
    candidates = _payment_challenges(data["header"])
    if not candidates:
        raise ParseError("no Payment challenge in the header")
    return _challenge_value(Challenge.from_www_authenticate(candidates[0]))


def challenge_format(data: dict[str, Any]) -> dict[str, Any]:
    request = data["request"]
    challenge = Challenge(
        id=data["id"],
        method=data["method"],
        intent=data["intent"],
        request=request,
        realm=data["realm"],
        request_b64=canonical_b64url(request),
        digest=data.get("digest"),
        expires=data.get("expires"),
        description=data.get("description"),
        opaque=_opaque_dict(data.get("opaque")),
    )
    return {"header": challenge.to_www_authenticate(data["realm"])}


def credential_parse(data: dict[str, Any]) -> dict[str, Any]:
    credential = Credential.from_authorization(data["header"])
    echo = credential.challenge
    challenge: dict[str, Any] = {
        "id": echo.id,
        "realm": echo.realm,
        "method": echo.method,
        "intent": echo.intent,
        # pympp keeps the echoed request as its wire string; the ABI wants it
        # decoded, as pympp's server does before re-computing the id.
        "request": _json_object_from_b64url(echo.request, "challenge.request"),
    }
    _put_optional(challenge, "expires", echo.expires)
    _put_optional(challenge, "digest", echo.digest)
    _put_optional(challenge, "opaque", echo.opaque)
    _put_optional(challenge, "description", echo.description)
    value: dict[str, Any] = {"challenge": challenge, "payload": credential.payload}
    _put_optional(value, "source", credential.source)
    return value


def credential_format(data: dict[str, Any]) -> dict[str, Any]:
    given = data["challenge"]
    echo = ChallengeEcho(
        id=given["id"],
        realm=given["realm"],
        method=given["method"],
        intent=given["intent"],
        request=canonical_b64url(given["request"]),
        expires=given.get("expires"),
        digest=given.get("digest"),
        opaque=given.get("opaque"),
        description=given.get("description"),
    )
    credential = Credential(challenge=echo, payload=data["payload"], source=data.get("source"))
    return {"header": credential.to_authorization()}


def _timestamp_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def receipt_parse(data: dict[str, Any]) -> dict[str, Any]:
    receipt = Receipt.from_payment_receipt(data["header"])
    value: dict[str, Any] = {
        "status": receipt.status,
        "method": receipt.method,
        "timestamp": _timestamp_text(receipt.timestamp),
        "reference": receipt.reference,
    }
    _put_optional(value, "externalId", receipt.external_id)
    _put_optional(value, "extra", receipt.extra)
    return value


def receipt_format(data: dict[str, Any]) -> dict[str, Any]:
    text = data["timestamp"]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OpFailure(f"timestamp {text!r} is not ISO 8601") from None
    receipt = Receipt(
        status=data["status"],
        timestamp=moment,
        reference=data["reference"],
        method=data["method"],
        external_id=data.get("externalId"),
        extra=data.get("extra"),
    )
    return {"header": receipt.to_payment_receipt()}


def base64url_encode(data: dict[str, Any]) -> dict[str, Any]:
    return {"text": mpp._b64url_encode(data["text"])}


def base64url_decode(data: dict[str, Any]) -> dict[str, Any]:
    # pympp's decoder (padding restored, then urlsafe_b64decode) is lenient:
    # it accepts padding and the standard alphabet and drops stray characters.
    try:
        raw = _unb64url(data["text"])
    except (binascii.Error, ValueError) as error:
        raise OpFailure(f"invalid base64url: {error}") from None
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError as error:
        raise OpFailure(f"not UTF-8: {error}") from None


def challenge_id(data: dict[str, Any]) -> dict[str, Any]:
    # description is accepted by the ABI but not bound into the id.
    identifier = mpp.generate_challenge_id(
        secret_key=data["secretKey"],
        realm=data["realm"],
        method=data["method"],
        intent=data["intent"],
        request=data["request"],
        expires=data.get("expires"),
        digest=data.get("digest"),
        opaque=_opaque_dict(data.get("opaque")),
    )
    return {"id": identifier}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "challenge.parse": challenge_parse,
    "challenge.format": challenge_format,
    "credential.parse": credential_parse,
    "credential.format": credential_format,
    "receipt.parse": receipt_parse,
    "receipt.format": receipt_format,
    "base64url.encode": base64url_encode,
    "base64url.decode": base64url_decode,
    "challenge.id": challenge_id,
}


def failure(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message}}


def encode(response: dict[str, Any]) -> str:
    # ASCII-only output: every non-ASCII character travels as a JSON escape.
    # NaN and infinities (which pympp's JSON decoding lets through) are not
    # JSON, so they make the encoding fail rather than corrupt the stream.
    return json.dumps(response, ensure_ascii=True, allow_nan=False)


def answer(line: str) -> str:
    try:
        request = json.loads(line)
        op = request["op"]
        data = request["input"]
    except (ValueError, KeyError, TypeError) as error:
        return encode(failure("unknown_error", f"malformed request line: {error!r}"))
    handler = OPERATIONS.get(op)
    if handler is None:
        return encode(failure("unsupported_operation", f"unknown operation {op!r}"))
    try:
        return encode({"ok": True, "value": handler(data)})
    except Exception as error:  # noqa: BLE001 - every failure becomes an ABI error
        return encode(failure(ERROR_TYPE[op], f"{type(error).__name__}: {error}"))


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(answer(line) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
