"""Schemathesis hooks for `make test`'s fuzzing pass (tools/fuzz.sh).

Every authenticated request gets the token of a fresh account: the fuzzer
logs out and deletes accounts, and a shared token would turn the rest of the
run into 401s. Each account verifies its address with the link of its
verification mail (read from the SES emulator) and is made an admin (with
users-admin), exactly as a person would, so login passes its 403 and the
admin listing is fuzzed past its own.
"""

import json
import os
import subprocess
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"]
SES_STORE = os.environ["AWS_ENDPOINT_URL_SES"] + "/store"
PASSWORD = "fuzzing passphrase of a fresh account"


def _post(path, body):
    request = urllib.request.Request(
        BASE_URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _verification_token(email):
    with urllib.request.urlopen(SES_STORE, timeout=30) as response:
        mails = [m for m in json.load(response)["emails"] if email in m["destination"]["to"]]
    return mails[-1]["body"]["text"].split("/verify-email#token=")[1].split()[0]


@schemathesis.auth(refresh_interval=None)
class FreshAccount:
    def get(self, case, context):
        email = f"fuzz-{uuid.uuid4().hex}@example.com"
        _post("/v1/api/register", {"email": email, "password": PASSWORD, "name": "Fuzz"})
        _post(f"/v1/api/verify_email/{_verification_token(email)}", {})
        subprocess.run(["target/debug/users-admin", "promote", email], check=True, capture_output=True)
        return _post("/v1/api/login", {"email": email, "password": PASSWORD})["token"]

    def set(self, case, token, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {token}"


# The body cargo lambda watch answers with when it cannot turn a request into
# an API Gateway event; the function is never called.
EMULATOR_CONVERSION_FAILURE = b'{"type":"https://httpstatuses.com/500","status":500,"title":"Internal Server Error"}'


def _is_utf8(data):
    if data is None:
        return True
    if isinstance(data, str):
        # requests sends str headers as Latin-1: only ASCII arrives as UTF-8.
        return data.isascii()
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _emulator_cannot_carry(request):
    return not _is_utf8(request.body) or not all(_is_utf8(value) for value in request.headers.values())


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Drops failures that the local gateway emulator causes and no function sees.

    cargo lambda watch answers a request whose body (under a text
    Content-Type) or a header value is not UTF-8 with its own 500, before any
    function runs. API Gateway passes such bodies on base64-encoded, and the
    functions' answer to them (400 invalid_json) is tested in
    tests/api/hostile_bodies.rs. Only that exact emulator answer to that kind
    of input is dropped: any other failure, a function's own 500 or a crash
    included, still fails the run.
    """
    caused_by_emulator = (
        response.status_code == 500
        and response.content == EMULATOR_CONVERSION_FAILURE
        and _emulator_cannot_carry(response.request)
    )
    if caused_by_emulator:
        # Counted, not hidden: tools/fuzz.sh prints how many were dropped.
        with open(os.environ["FUZZ_EMULATOR_DROPS"], "a", encoding="utf-8") as drops:
            drops.write(f"{response.request.method} {case.path}\n")
    return not caused_by_emulator
