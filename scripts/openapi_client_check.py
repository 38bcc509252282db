#!/usr/bin/env python3
"""Does the OpenAPI document describe request bodies well enough for a
generated client to draft a complete request without the Rust source?

    openapi_client_check.py OPENAPI.json

1. generates pydantic models from the document with datamodel-code-generator
   (into a temporary folder) and imports them;
2. builds a complete body of every request kind (by hand, here) and checks it
   against the generated models (`NewRequest`, one model per kind, chosen by
   `kind`) and, with jsonschema, against the schema of the body of
   `POST /api/v1/cases/{id}/requests`;
3. checks that incomplete or wrong bodies (a preservation without a required
   field, an identifier with a wrong `type`...) are refused.

Prints `N passed, M failed` last and exits non-zero on any failure. Needs a
Python with the versions `.ci/run` installs (datamodel-code-generator,
jsonschema, pydantic, email-validator).
"""

import copy
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pydantic

CREATE_PATH = "/api/v1/cases/{id}/requests"

KINDS = [
    "expedited_preservation",
    "preservation_extension",
    "traffic_data_disclosure",
    "subscriber_information",
    "production_order",
    "emergency_disclosure",
    "mla_stored_data",
    "mla_real_time_traffic",
    "mla_interception",
    "police_information",
]


def pascal(snake):
    return "".join(w[:1].upper() + w[1:] for w in snake.split("_"))


# ---------------------------------------------------------------- bodies


def header():
    """What every kind needs: the T-CY header, offences, facts."""
    return {
        "case_number": "OCLCTIC-2026-0042",
        "requesting": {
            "organisation": "Office anti-cybercriminalité",
            "country": "FR",
            "person": "Claire Dubois",
            "phones": ["+33140979797"],
            "time_zone": "Europe/Paris",
        },
        "requested": {"organisation": "Fiscalía de Ciberdelincuencia", "country": "ES"},
        "domestic_legal_basis": "Code de procédure pénale art. 77-1-1",
        "legal_basis": "budapest_convention",
        "offences": [{"description": "Extortion by ransomware", "provision": "Code pénal art. 312-1"}],
        "facts": "A hospital's servers were encrypted on 2 March 2026 and a ransom demanded "
        "through a messaging account; the payment address and the account are the leads.",
    }


def identifiers():
    """One identifier of every type, each with its own fields."""
    return [
        {"type": "ip_address", "address": "198.51.100.7", "port": 44321, "at": "2026-03-02T01:12:00Z"},
        {"type": "ip_address", "address": "2001:db8::1", "at": "2026-03-02T02:00:00+01:00"},
        {"type": "email", "address": "ransom@example.net"},
        {"type": "phone", "number": "+34600123456"},
        {"type": "url", "url": "https://example.net/leak/hospital"},
        {"type": "domain", "name": "example.net"},
        {"type": "account", "service": "ExampleChat", "handle": "@decryptor"},
        {"type": "imei", "value": "490154203237518"},
        {"type": "imsi", "value": "214010123456789"},
        {"type": "iban", "value": "ES9121000418450200051332"},
        {"type": "crypto_address", "chain": "bitcoin", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
        {"type": "payment_card", "masked": "411111******1111"},
    ]


def complete(kind):
    """A body of `kind` with everything approval requires."""
    c = header()
    c["identifiers"] = identifiers()
    c["data"] = [
        {
            "category": "subscriber",
            "description": "Subscriber of the account and of the address at that time",
            "relationship_to_offence": "The ransom was demanded from this account",
        }
    ]
    c["period_from"] = "2026-03-01"
    c["period_to"] = "2026-03-03T00:00:00Z"
    c["custodian"] = "ExampleChat Ltd., Madrid"
    if kind in ("expedited_preservation", "preservation_extension"):
        c["necessity"] = "The provider keeps connection logs for 90 days only"
        c["mla_to_follow"] = True
    if kind == "preservation_extension":
        c["marking"] = "extension"
        c["previous_reference"] = "OCLCTIC-2026-0042/P1"
        del c["identifiers"]  # an extension names the preservation, not identifiers
    if kind == "traffic_data_disclosure":
        c["previous_reference"] = "OCLCTIC-2026-0042/P1"
        c["data"][0]["category"] = "traffic"
    if kind == "emergency_disclosure":
        c["emergency_facts"] = "The account threatens to switch off the intensive care unit tonight"
        c["emergency_link"] = "The subscriber data locate the person behind the account"
    if kind in ("mla_real_time_traffic", "mla_interception"):
        c["collection_days"] = 30
        c["necessity"] = "Stored data do not show who the suspects talk to now"
        c["data"][0]["category"] = "traffic" if kind == "mla_real_time_traffic" else "content"
    if kind == "mla_stored_data":
        c["data"][0]["category"] = "content"
    if kind == "police_information":
        # No legal basis is needed between police forces; data or identifiers will do.
        del c["domestic_legal_basis"], c["legal_basis"], c["data"]
    return {"kind": kind, "direction": "outgoing", "content": c}


def without(body, *path):
    b = copy.deepcopy(body)
    target = b
    for p in path[:-1]:
        target = target[p]
    del target[path[-1]]
    return b


def with_value(body, path, value):
    b = copy.deepcopy(body)
    target = b
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return b


def incomplete():
    """(name, body, checked by): bodies a complete-request client must refuse.
    `models` and `schema` are the generated models and jsonschema; a case
    checked by the schema only rests on JSON Schema keywords (if/then)
    that code generators do not translate."""
    p = complete("expedited_preservation")
    both = ("models", "schema")
    return [
        ("preservation without necessity", without(p, "content", "necessity"), both),
        ("preservation without facts", without(p, "content", "facts"), both),
        ("preservation with blank facts", with_value(p, ["content", "facts"], "   "), both),
        ("preservation without identifiers", without(p, "content", "identifiers"), both),
        ("preservation with no identifier", with_value(p, ["content", "identifiers"], []), both),
        ("preservation without announcing mutual assistance", with_value(p, ["content", "mla_to_follow"], False), both),
        ("preservation without legal basis", without(p, "content", "legal_basis"), both),
        ("preservation without requested country", without(p, "content", "requested", "country"), both),
        (
            "preservation data without link to the offence",
            without(p, "content", "data", 0, "relationship_to_offence"),
            both,
        ),
        (
            "requesting authority without e-mail or phone",
            without(p, "content", "requesting", "phones"),
            both,
        ),
        (
            "identifier with a wrong discriminator",
            with_value(p, ["content", "identifiers", 0, "type"], "ipaddr"),
            both,
        ),
        ("identifier with another type's field", with_value(p, ["content", "identifiers", 2, "value"], "x"), both),
        ("IP address without its time", without(p, "content", "identifiers", 0, "at"), both),
        ("unmasked card number", with_value(p, ["content", "identifiers", 11, "masked"], "4111111111111111"), both),
        ("unknown blockchain", with_value(p, ["content", "identifiers", 10, "chain"], "dogecoin"), both),
        ("unknown content field", with_value(p, ["content", "colour"], "red"), both),
        ("unknown kind", with_value(p, ["kind"], "search_warrant"), both),
        ("unknown legal basis", with_value(p, ["content", "legal_basis"], "goodwill"), both),
        (
            "subscriber information asking for traffic data",
            with_value(complete("subscriber_information"), ["content", "data", 0, "category"], "traffic"),
            both,
        ),
        (
            "interception without duration",
            with_value(complete("mla_interception"), ["content", "collection_days"], 0),
            both,
        ),
        ("emergency without its facts", without(complete("emergency_disclosure"), "content", "emergency_facts"), both),
        (
            "police information with neither data nor identifiers",
            without(complete("police_information"), "content", "identifiers"),
            both,
        ),
        (
            "a follow-up without the earlier reference",
            with_value(p, ["content", "marking"], "follow_up"),
            ("schema",),
        ),
        (
            "content data searched by account without the period",
            without(
                without(complete("mla_interception"), "content", "period_from"),
                "content",
                "period_to",
            ),
            ("schema",),
        ),
    ]


# ---------------------------------------------------------------- checks


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok      {name}")
        else:
            self.failed += 1
            print(f"FAILED  {name}{': ' + detail if detail else ''}")


def generate_models(doc_path, out_dir):
    out = Path(out_dir) / "entraide_models.py"
    cmd = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        "--input",
        str(doc_path),
        "--input-file-type",
        "openapi",
        "--output-model-type",
        "pydantic_v2.BaseModel",
        "--output-datetime-class",
        "AwareDatetime",
        "--formatters",
        "builtin",
        "--output",
        str(out),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"datamodel-codegen failed:\n{run.stdout}\n{run.stderr}")
    spec = importlib.util.spec_from_file_location("entraide_models", out)
    module = importlib.util.module_from_spec(spec)
    sys.modules["entraide_models"] = module
    spec.loader.exec_module(module)
    return module


def body_validator(doc):
    """A JSON Schema 2020-12 validator for the create-request body, its
    references resolved in the document."""
    schema = doc["paths"][CREATE_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": doc["components"]}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0])
        print(f"usage: {argv[0]} OPENAPI.json")
        return 2
    doc_path = Path(argv[1])
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    t = Tally()

    with tempfile.TemporaryDirectory() as tmp:
        try:
            models = generate_models(doc_path, tmp)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            t.check("generate pydantic models from the document", False, str(e))
            print(f"{t.passed} passed, {t.failed} failed")
            return 1
        t.check("generate pydantic models from the document", True)
        validator = body_validator(doc)

        schemas = doc["components"]["schemas"]
        mapping = schemas.get("NewRequest", {}).get("discriminator", {}).get("mapping", {})
        t.check("the create body is discriminated by kind", sorted(mapping) == sorted(KINDS), str(sorted(mapping)))
        id_mapping = schemas.get("Identifier", {}).get("discriminator", {}).get("mapping", {})
        id_types = sorted({i["type"] for i in identifiers()})
        t.check("identifiers are discriminated by type", sorted(id_mapping) == id_types, str(sorted(id_mapping)))

        def model_accepts(body):
            try:
                return models.NewRequest.model_validate(body), ""
            except pydantic.ValidationError as e:
                return None, str(e).splitlines()[0] + " " + " / ".join(
                    f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:3]
                )

        def schema_errors(body):
            return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(body)]

        for kind in KINDS:
            body = complete(kind)
            model, why = model_accepts(body)
            expected = f"New{pascal(kind)}Request"
            t.check(
                f"complete {kind}: generated models accept it as {expected}",
                model is not None and type(model.root).__name__ == expected,
                why or (type(model.root).__name__ if model else ""),
            )
            errors = schema_errors(body)
            t.check(f"complete {kind}: the document's schema accepts it", not errors, "; ".join(errors[:3]))
            if model is not None:
                again = model.model_dump(mode="json", exclude_none=True, by_alias=True)
                errors = schema_errors(again)
                t.check(
                    f"complete {kind}: what the models send passes the schema",
                    not errors,
                    "; ".join(errors[:3]),
                )
            example = schemas.get(expected, {}).get("examples", [None])[0]
            if example is not None:
                t.check(f"{expected}'s example passes the schema", not schema_errors(example))
                t.check(f"{expected}'s example passes the models", model_accepts(example)[0] is not None)

        for name, body, checked_by in incomplete():
            if "models" in checked_by:
                model, _ = model_accepts(body)
                t.check(f"refused by the models: {name}", model is None)
            if "schema" in checked_by:
                t.check(f"refused by the schema: {name}", bool(schema_errors(body)))

    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
