"""The local stand-in for API Gateway (HTTP API, payload 2.0) in front of
`cargo lambda watch`, so that local runs and tests see what a deployed
function sees (docs/local-development.md, "What `make dev` runs"):

- the routes are read from template.yaml (each function's HttpApi events), so
  no second list of routes exists;
- `requestContext.http.sourceIp` is the TCP peer, never a header a client
  sets: a test acts as several clients by connecting from several loopback
  addresses (127.0.0.0/8), and the per-client limits count them apart;
- `requestContext.http.userAgent` is the request's User-Agent header;
- a body that is not valid UTF-8 is base64-encoded (`isBase64Encoded`), as
  API Gateway does, instead of being refused by the emulator;
- an unknown route answers 404 `{"message":"Not Found"}` and a function
  that fails 500 `{"message":"Internal Server Error"}`, API Gateway's own bodies.

Each request is one invocation through cargo lambda watch's Lambda invoke
endpoint. Listens on 127.0.0.1 only.

Usage: python local-gateway.py --template template.yaml --port 9000 --invoke http://127.0.0.1:9001
"""

import argparse
import base64
import http.server
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from samcli.yamlhelper import yaml_parse

# API Gateway refuses larger payloads itself (HTTP APIs: 10 MB).
MAX_BODY_BYTES = 10 * 1024 * 1024
# Above the functions' own 10 s timeout (template.yaml, Globals).
INVOKE_TIMEOUT_SECONDS = 30


def routes_of(template_path):
    """(method, path template, compiled path pattern, function) for every
    HttpApi event of every function in the template."""
    with open(template_path, encoding="utf-8") as file:
        template = yaml_parse(file.read())
    routes = []
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        function = resource["Metadata"]["BuildProperties"]["Binary"]
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            method, path = event["Properties"]["Method"].upper(), event["Properties"]["Path"]
            pattern = "^" + re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
            routes.append((method, path, re.compile(pattern), function))
    return routes


def single_values(pairs):
    """Repeated names joined by commas, as API Gateway joins them."""
    joined = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


class Gateway(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, routes, invoke_base):
        super().__init__(("127.0.0.1", port), Handler)
        self.routes = routes
        self.invoke_base = invoke_base.rstrip("/")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-gateway"
    sys_version = ""

    def do_request(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.answer(413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            return
        body = self.rfile.read(length) if length else b""
        for method, path, pattern, function in self.server.routes:
            match = pattern.match(url.path)
            if match and method == self.command:
                self.invoke(function, f"{method} {path}", match.groupdict(), url, body)
                return
        self.answer(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')

    def __getattr__(self, name):
        # Every method reaches the route table (http.server looks up
        # do_<METHOD>): one that no route declares gets API Gateway's 404,
        # not this server's 501.
        if name.startswith("do_"):
            return self.do_request
        raise AttributeError(name)

    def invoke(self, function, route_key, path_parameters, url, body):
        headers = single_values((name.lower(), value) for name, value in self.headers.items())
        cookies = headers.pop("cookie", None)
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": url.path,
            "rawQueryString": url.query,
            "headers": headers,
            "requestContext": {
                "accountId": "local",
                "apiId": "local",
                "domainName": headers.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": self.command,
                    "path": url.path,
                    "protocol": self.request_version,
                    "sourceIp": self.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = [cookie.strip() for cookie in cookies.split(";")]
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        if query:
            event["queryStringParameters"] = single_values(query)
        if path_parameters:
            event["pathParameters"] = {
                name: urllib.parse.unquote(value) for name, value in path_parameters.items()
            }
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        request = urllib.request.Request(
            f"{self.server.invoke_base}/2015-03-31/functions/{function}/invocations",
            data=json.dumps(event).encode("utf-8"),
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as invoked:
                result = json.loads(invoked.read())
            status = int(result["statusCode"])
        except (urllib.error.URLError, ValueError, KeyError, TypeError, OSError) as error:
            print(f"{route_key}: no response from {function} ({type(error).__name__})", file=sys.stderr, flush=True)
            self.answer(500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        response_body = result.get("body") or ""
        response_body = (
            base64.b64decode(response_body) if result.get("isBase64Encoded") else response_body.encode("utf-8")
        )
        response_headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers[name] = ",".join(values)
        self.answer(status, response_headers, response_body, result.get("cookies") or [])

    def answer(self, status, headers, body, cookies=()):
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        # The route key is logged, never the path: mailed tokens travel in
        # some paths (API.md), as in the deployed access log.
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--invoke", required=True, help="cargo lambda watch's base URL")
    arguments = parser.parse_args()
    gateway = Gateway(arguments.port, routes_of(arguments.template), arguments.invoke)
    print(f"local gateway on 127.0.0.1:{arguments.port}, {len(gateway.routes)} routes", flush=True)
    gateway.serve_forever()


if __name__ == "__main__":
    main()
