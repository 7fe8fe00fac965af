"""Print the FileDescriptorProtos embedded in an SDK's generated ``*_pb2`` modules.

Run it with the python of the SDK's own venv (the SDKs clash, so each gets one)::

    .sdk-venvs/dapr-119/bin/python scripts/dump_descriptors.py \
        dapr.ext.workflow._durabletask.internal

Each argument is a ``*_pb2`` module, or a package whose ``*_pb2`` modules are all taken.
Output (stdout) is one JSON object::

    {"files": {"<proto file name>": "<base64 of the serialized FileDescriptorProto>", ...},
     "roots": ["<proto file names of the requested modules>", ...]}

``files`` holds the requested files and, transitively, everything they import (the
well-known types included), so a reader can rebuild a complete descriptor pool from it.
Only the standard library and the SDK's own protobuf runtime are used.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import sys
from typing import Any

from google.protobuf import descriptor_pb2


def _pb2_modules(name: str) -> list[Any]:
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return [module]
    names = sorted(
        info.name for info in pkgutil.iter_modules(module.__path__)
        if info.name.endswith("_pb2")
    )
    return [importlib.import_module(f"{name}.{sub}") for sub in names]


def _collect(file_descriptor: Any, out: dict[str, str]) -> None:
    if file_descriptor.name in out:
        return
    proto = descriptor_pb2.FileDescriptorProto()
    file_descriptor.CopyToProto(proto)
    out[file_descriptor.name] = base64.b64encode(
        proto.SerializeToString(deterministic=True)
    ).decode("ascii")
    for dep in file_descriptor.dependencies:
        _collect(dep, out)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    files: dict[str, str] = {}
    roots: list[str] = []
    for name in argv:
        for module in _pb2_modules(name):
            roots.append(module.DESCRIPTOR.name)
            _collect(module.DESCRIPTOR, files)
    json.dump({"files": dict(sorted(files.items())), "roots": sorted(set(roots))},
              sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
