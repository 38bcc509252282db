#!/usr/bin/env python3
"""Puts something behind the GET routes of a fresh node before Schemathesis
runs against it, so that the generated calls meet real cases, requests and
evidence instead of only 404s.

    schemathesis_seed.py BASE_URL OFFICER_TOKEN ADMIN_EMAIL

As the officer: a case (with the administrator added as a member), a draft
preservation request in it, and a small evidence item uploaded through the
resumable upload. Standard library only; exits non-zero, saying which call
failed, if the node refuses any of it.
"""

import json
import sys
import urllib.error
import urllib.request


def call(base, token, method, path, body=None, headers=None, raw=None):
    data = raw
    all_headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    req = urllib.request.Request(base + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read().decode()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        sys.exit(f"seed: {method} {path} answered {e.code}: {e.read().decode()[:500]}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, officer, admin_email = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]

    _, case = call(
        base,
        officer,
        "POST",
        "/api/v1/cases",
        {
            "reference": "ST-2026-0001",
            "title": "Ransomware against a regional hospital",
            "summary": "Fictitious case seeded for the Schemathesis run.",
        },
    )
    case_id = case["id"]
    call(base, officer, "POST", f"/api/v1/cases/{case_id}/members", {"email": admin_email})
    call(
        base,
        officer,
        "POST",
        f"/api/v1/cases/{case_id}/requests",
        {"kind": "expedited_preservation"},
    )

    content = b"seized server image (stand-in)\n"
    _, upload = call(
        base,
        officer,
        "POST",
        f"/api/v1/cases/{case_id}/evidence/uploads",
        {
            "file_name": "server.img",
            "size": len(content),
            "description": "Image of the encrypted server",
            "source": "seized_device",
        },
    )
    status, _ = call(
        base,
        officer,
        "PATCH",
        f"/api/v1/evidence/uploads/{upload['id']}",
        headers={"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        raw=content,
    )
    if status != 201:
        sys.exit(f"seed: the evidence upload did not complete ({status})")
    print(f"seeded case {case_id}: a member, a draft request, an evidence item")


if __name__ == "__main__":
    main()
