"""make new-route / make remove-route: scaffolds a route, or takes one away.

    make new-route NAME=get-avatar ROUTE='GET /v1/api/user/avatar'
        (python3 tools/new-route.py add get-avatar GET /v1/api/user/avatar)
    make remove-route NAME=get-avatar
        (python3 tools/new-route.py remove get-avatar)

`add` writes what every route has, each as a starting point:
  functions/NAME/        the package (Cargo.toml, main.rs, a handler that
                         authenticates the caller and answers 200);
  template.yaml          the function resource with its HttpApi event and no
                         permissions beyond Lambda's logs (least privilege
                         until you grant what it needs);
  events/NAME.json       an API Gateway HTTP API (payload 2.0) event;
  openapi.yaml           the operation, with x-function.
Then `make test` names what is left, each by its list: the grants in
accounts::store::permissions (and the permissions walk), the bench's ROUTES,
the e2e walkthrough. `remove` takes away exactly what `add` wrote, whatever
was filled in since.

template.yaml and openapi.yaml are edited as text, block by block: a YAML
round trip would drop their comments and CloudFormation's tags.
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

# NEW_ROUTE_ROOT: another tree to edit (the test of this script uses a copy).
ROOT = Path(os.environ.get("NEW_ROUTE_ROOT") or Path(__file__).resolve().parent.parent)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def fail(message):
    print(f"new-route: {message}", file=sys.stderr)
    sys.exit(2)


def resource_id(name):
    return "".join(part.capitalize() for part in name.split("-")) + "Function"


def operation_id(name):
    first, *rest = name.split("-")
    return first + "".join(part.capitalize() for part in rest)


def block_end(lines, start, indent):
    """The index after the block that starts at `start` (a key at `indent`):
    the next line at that indent or less that is not blank or a comment."""
    for index in range(start + 1, len(lines)):
        line = lines[index]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if len(line) - len(line.lstrip()) <= indent:
                return index
    return len(lines)


def template_block(name, method, path):
    return f"""  {resource_id(name)}:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: {name}
    Properties:
      CodeUri: functions/{name}
      Description: "{method} {path}: TODO say what it does."
      # No Policies yet: grant exactly what its store calls need, listed in
      # accounts::store::permissions (the permissions test holds both).
      Events:
        Api:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: {method}
            Path: {path}

"""


def openapi_operation(name, method, path):
    parameters = "".join(
        f"        - {{ name: {parameter}, in: path, required: true, schema: {{ type: string }} }}\n"
        for parameter in re.findall(r"\{(\w+)\+?\}", path)
    )
    return f"""    {method.lower()}:
      operationId: {operation_id(name)}
      summary: TODO say what it does.
      x-function: {name}
      security: [{{ bearer: [] }}]
""" + (f"      parameters:\n{parameters}" if parameters else "") + f"""\
      responses:
        "200":
          description: TODO the answer.
          headers: {{ Cache-Control: {{ $ref: "#/components/headers/NoStore" }} }}
          content:
            application/json:
              schema: {{ $ref: "#/components/schemas/Message" }}
        "401": {{ $ref: "#/components/responses/InvalidToken" }}
        "500": {{ $ref: "#/components/responses/InternalError" }}
        "503": {{ $ref: "#/components/responses/ServiceUnavailable" }}
"""


CARGO_TOML = """[package]
name = "{name}"
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
publish.workspace = true

[dependencies]
accounts.workspace = true
http-api.workspace = true
lambda_http.workspace = true
tokio.workspace = true
tracing.workspace = true
"""

MAIN_RS = """#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {{
    http_api::lambda::run(http_api::AppState::from_env(), {crate}::handler).await
}}
"""

LIB_RS = """//! `{method} {path}`: TODO say what it does.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{{MessageBody, json_response, respond}};
use lambda_http::http::StatusCode;
use lambda_http::{{Body, Error, Request, Response}};

#[tracing::instrument(name = "{name}", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {{
    Ok(respond(answer(state, &request).await))
}}

async fn answer(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {{
    state.authenticate(request).await?;
    json_response(StatusCode::OK, &MessageBody {{ message: "TODO" }})
}}
"""


def event(method, path):
    example = json.loads((ROOT / "events/get-user.json").read_text())
    parameters = re.findall(r"\{(\w+)\+?\}", path)
    raw_path = re.sub(r"\{(\w+)\+?\}", lambda match: f"example-{match.group(1)}", path)
    example["routeKey"] = example["requestContext"]["routeKey"] = f"{method} {path}"
    example["rawPath"] = example["requestContext"]["http"]["path"] = raw_path
    example["requestContext"]["http"]["method"] = method
    if parameters:
        example["pathParameters"] = {name: f"example-{name}" for name in parameters}
    return json.dumps(example, indent=2) + "\n"


def add(name, method, path):
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        fail(f"NAME {name!r}: lower-case words joined by '-', like get-avatar")
    method = method.upper()
    if method not in METHODS:
        fail(f"METHOD {method!r}: one of {', '.join(METHODS)}")
    if not re.fullmatch(r"(/[A-Za-z0-9_.{}+-]+)+", path):
        fail(f"PATH {path!r}: like /v1/api/user/avatar or /v1/api/things/{{id}}")
    package = ROOT / "functions" / name
    if package.exists():
        fail(f"functions/{name} exists already")

    template = (ROOT / "template.yaml").read_text().splitlines(keepends=True)
    if any(line == f"  {resource_id(name)}:\n" for line in template):
        fail(f"template.yaml has {resource_id(name)} already")
    outputs = template.index("Outputs:\n")
    template[outputs:outputs] = [template_block(name, method, path)]
    (ROOT / "template.yaml").write_text("".join(template))

    openapi = (ROOT / "openapi.yaml").read_text().splitlines(keepends=True)
    if f"  {path}:\n" in openapi:
        end = block_end(openapi, openapi.index(f"  {path}:\n"), 2)
        while not openapi[end - 1].strip():
            end -= 1
        openapi.insert(end, openapi_operation(name, method, path))
    else:
        components = openapi.index("components:\n")
        openapi.insert(components, f"  {path}:\n" + openapi_operation(name, method, path) + "\n")
    (ROOT / "openapi.yaml").write_text("".join(openapi))

    (ROOT / "events" / f"{name}.json").write_text(event(method, path))
    (package / "src").mkdir(parents=True)
    (package / "Cargo.toml").write_text(CARGO_TOML.format(name=name))
    (package / "src/main.rs").write_text(MAIN_RS.format(crate=name.replace("-", "_")))
    (package / "src/lib.rs").write_text(LIB_RS.format(name=name, method=method, path=path))
    print(f"scaffolded {method} {path} as functions/{name}; `make test` names what is left")


def remove(name):
    template_path, openapi_path = ROOT / "template.yaml", ROOT / "openapi.yaml"
    template = template_path.read_text().splitlines(keepends=True)
    key = f"  {resource_id(name)}:\n"
    if key not in template:
        fail(f"template.yaml has no {resource_id(name)}")
    start = template.index(key)
    end = block_end(template, start, 2)
    del template[start:end]
    template_path.write_text("".join(template))

    openapi = openapi_path.read_text().splitlines(keepends=True)
    marker = f"      x-function: {name}\n"
    while marker in openapi:
        at = openapi.index(marker)
        operation = max(i for i in range(at) if re.fullmatch(r"    [a-z]+:\n", openapi[i]))
        end = block_end(openapi, operation, 4)
        while not openapi[end - 1].strip():
            end -= 1
        del openapi[operation:end]
        path_start = max(i for i in range(operation) if re.fullmatch(r"  /\S*:\n", openapi[i]))
        path_end = block_end(openapi, path_start, 2)
        if all(not line.strip() for line in openapi[path_start + 1:path_end]):
            del openapi[path_start:path_end]
    openapi_path.write_text("".join(openapi))

    (ROOT / "events" / f"{name}.json").unlink(missing_ok=True)
    shutil.rmtree(ROOT / "functions" / name, ignore_errors=True)
    print(f"removed functions/{name}, its template resource, event and OpenAPI operation")


def main(arguments):
    match arguments:
        case ["add", name, method, path]:
            add(name, method, path)
        case ["remove", name]:
            remove(name)
        case _:
            fail("usage: new-route.py add NAME METHOD PATH | new-route.py remove NAME")


if __name__ == "__main__":
    main(sys.argv[1:])
