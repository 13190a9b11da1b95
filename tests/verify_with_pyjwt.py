"""Verifies an access token the way an API Gateway JWT authorizer does, with
PyJWT rather than this project's code: the discovery document at the issuer,
the key set it names, RS256 only, and iss, aud and exp checked.

Usage: verify_with_pyjwt.py ISSUER AUDIENCE < token
Prints the claims as JSON and exits 0 when the token verifies; prints the
reason and exits 1 when it does not.
"""

import json
import sys
import urllib.request

import jwt


def main() -> int:
    issuer, audience = sys.argv[1:3]
    token = sys.stdin.read().strip()
    with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as answer:
        discovery = json.load(answer)
    if discovery["issuer"] != issuer:
        print(f"the discovery document names another issuer: {discovery['issuer']}")
        return 1
    keys = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False)
    try:
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        print(f"{type(error).__name__}: {error}")
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
