"""Writes the template `sam local` runs: template.yaml with each function's
CodeUri pointing at its prebuilt bootstrap (DIR/<binary>/bootstrap) instead
of its Cargo package, so SAM builds nothing. Given ONLY (binaries, comma-
separated), the other functions and their routes are left out. Everything
else is unchanged.

Usage: python local_template.py TEMPLATE OUT DIR [ONLY]
"""

import pathlib
import sys

from samcli.yamlhelper import yaml_dump, yaml_parse


def main(template, out, functions_dir, only=""):
    parsed = yaml_parse(pathlib.Path(template).read_text())
    kept = set(filter(None, only.split(",")))
    for name, resource in list(parsed["Resources"].items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.pop("Metadata")["BuildProperties"]["Binary"]
        if kept and binary not in kept:
            del parsed["Resources"][name]
            continue
        code = pathlib.Path(functions_dir, binary).resolve()
        if not (code / "bootstrap").is_file():
            sys.exit(f"{code}/bootstrap is missing: build the functions for x86_64 first")
        resource["Properties"]["CodeUri"] = str(code)
    pathlib.Path(out).write_text(yaml_dump(parsed))


if __name__ == "__main__":
    main(*sys.argv[1:])
