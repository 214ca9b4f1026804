"""An example plugin in Python: the same JSON commands as the Rust plugin
(examples/plugins/rust/src/lib.rs), through the same `artifact:store/artifacts` import.

Built with componentize-py (PyPI):
    componentize-py -d ../../../wit -w artifact:store/plugin componentize app -o plugin.wasm
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import artifacts, types

KINDS = {
    types.Error_NotFound: "not-found",
    types.Error_InvalidRef: "invalid-ref",
    types.Error_InvalidArgument: "invalid-argument",
    types.Error_TooLarge: "too-large",
    types.Error_RangeNotSatisfiable: "range-not-satisfiable",
    types.Error_Integrity: "integrity",
    types.Error_Decode: "decode",
    types.Error_Conflict: "conflict",
    types.Error_Forbidden: "forbidden",
    types.Error_Expired: "expired",
    types.Error_Storage: "storage",
    types.Error_Metadata: "metadata",
}


def kind(e: Err) -> str:
    return KINDS.get(type(e.value), "unknown")


def put_options(bucket: str, name: str, content_type: str) -> artifacts.PutOptions:
    return artifacts.PutOptions(
        content_type=content_type, compression=None, bucket=bucket, name=name, if_exists=None,
        created_by="example-plugin (python)", store=None, execution_id=None, step=None, scope=None,
        ttl=None, kind=None, max_bytes=None, precompressed=None,
    )


def get_options(mode: types.Mode) -> artifacts.GetOptions:
    return artifacts.GetOptions(mode=mode, max_bytes=None, range=None, resolve_manifest=None, manifest_limits=None)


def names(bucket: str) -> list:
    q = types.ListQuery(
        bucket=bucket, name=None, name_prefix=None, created_by=None, created_after=None,
        created_before=None, uri=None, expired_before=None, order=types.Order.OLDEST_FIRST,
        cursor=None, limit=1000,
    )
    return [r.name for r in artifacts.list(q).records]


def outcome(f) -> str:
    try:
        f()
        return "ok"
    except Err as e:
        return kind(e)


def handle(cmd: dict):
    op = cmd.get("op")
    bucket = cmd.get("bucket", "")
    if op == "demo":
        put = artifacts.put(cmd["text"].encode(), put_options(bucket, cmd["name"], "text/plain"))
        got = artifacts.get(put.record.id, get_options(types.Mode.TEXT))
        return {"id": put.record.id, "result_ref": put.result_ref, "got": got.data.value, "names": names(bucket)}
    if op == "put":
        try:
            put = artifacts.put(bytes([7]) * cmd["size"], put_options(bucket, cmd["name"], "application/octet-stream"))
            return {"id": put.record.id}
        except Err as e:
            return {"error": kind(e)}
    if op == "try":
        out = []
        for r in cmd["refs"]:
            out.append(outcome(lambda: artifacts.head(r)))
            out.append(outcome(lambda: artifacts.get(r, get_options(types.Mode.BYTES))))
            out.append(outcome(lambda: artifacts.open_reader(r, get_options(types.Mode.BYTES))))
            out.append(outcome(lambda: artifacts.delete(r)))
        return out
    if op == "list":
        return names(bucket)
    raise Err(f"unknown command {cmd}")


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            cmd = json.loads(input)
        except ValueError as e:
            raise Err(f"input is not JSON: {e}")
        try:
            return json.dumps(handle(cmd), separators=(",", ":"))
        except Err as e:
            if isinstance(e.value, str):
                raise
            raise Err(kind(e))
