"""Run the SAM CLI with its Lambda containers in the host's network namespace.

SAM CLI (1.170.0) never sets network_mode=host: with --docker-network host it
only skips network.connect() and publishes the emulator's port 8080 on a
random host port, which a bridge-less daemon drops (aws/aws-sam-cli PR #7278,
declined). This changes exactly one call, docker-py's
ContainerCollection.create, for the containers SAM labels as Lambda
containers: host network, no published ports, the Runtime Interface Emulator
listening on 127.0.0.1 at the port SAM picked, and its Runtime API on a free
loopback port (so several containers can run at once). The functions then
reach make dev's emulators at the same 127.0.0.1 addresses as on the host.

Usage: python -m sam_hostnet <sam arguments>   (this folder on PYTHONPATH)
"""

import socket
import sys

import docker.models.containers as _containers

_RIE = "/var/rapid/aws-lambda-rie"
_original_create = _containers.ContainerCollection.create


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create(self, image, command=None, **kwargs):
    labels = kwargs.get("labels") or {}
    entrypoint = kwargs.get("entrypoint")
    if labels.get("sam.cli.container.type") == "lambda" and isinstance(entrypoint, list) and entrypoint[:1] == [_RIE]:
        ports = kwargs.pop("ports", None) or {}
        interface, rie_port = ports.get("8080", ("127.0.0.1", 8080))
        if interface in ("", "0.0.0.0", "localhost"):
            interface = "127.0.0.1"
        kwargs["network_mode"] = "host"
        kwargs["entrypoint"] = [
            _RIE,
            "--runtime-interface-emulator-address",
            f"{interface}:{rie_port}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_loopback_port()}",
            *entrypoint[1:],
        ]
    return _original_create(self, image, command, **kwargs)


_containers.ContainerCollection.create = _create

if __name__ == "__main__":
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    sys.exit(cli())
