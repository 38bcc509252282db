"""Schemathesis hooks for scripts/schemathesis.sh (loaded through
SCHEMATHESIS_HOOKS): bodies for the media types Schemathesis cannot make
from a schema, so that the routes taking them are tested too instead of
being reported as "serialization not possible"."""

import json

import schemathesis
from hypothesis import strategies as st

# PATCH /api/v1/evidence/uploads/{id}: the bytes of a resumable upload.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))

# POST /api/v1/cases/{id}/evidence/packages/received: an evidence package.
# An empty ZIP archive (end of central directory only), a truncated one,
# or any bytes: the node must refuse each as a problem, never fail.
EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18
schemathesis.openapi.media_type(
    "application/zip",
    st.one_of(st.just(EMPTY_ZIP), st.just(EMPTY_ZIP[:10]), st.binary(max_size=2048)),
)

# POST /federation/inbox/batch: envelopes, one JSON object a line.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
schemathesis.openapi.media_type(
    "application/x-ndjson",
    st.one_of(
        st.lists(json_values, max_size=4).map(lambda lines: "\n".join(json.dumps(v) for v in lines).encode()),
        st.binary(max_size=1024),
    ),
)


def _integral(value):
    """`244.0` as `244`, through lists and objects."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    # JSON Schema counts `244.0` as an integer; serde (and most typed
    # clients) do not, and the node answers 422 `invalid_type`, which is its
    # documented behaviour. Send integral numbers as integers so that the
    # positive cases test the routes rather than this one discrepancy.
    # Only what holds such a number is touched: Schemathesis revalidates a
    # case its hooks changed.
    for part in ("body", "query", "path_parameters"):
        value = getattr(case, part, None)
        if value is None or isinstance(value, (bytes, str)):
            continue
        if _has_float(value):
            setattr(case, part, _integral(value))


def _has_float(value):
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False
