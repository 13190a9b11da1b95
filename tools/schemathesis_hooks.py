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
