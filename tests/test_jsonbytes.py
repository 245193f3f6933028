"""jsonbytes.dumps: the bytes it returns hold about their length (orjson's own output held 16 KiB for a
2 KB task state)."""

import tracemalloc

import orjson

from agentwatch.jsonbytes import dumps


def test_dumps_is_orjson_sized_to_fit() -> None:
    doc = {"task": "x" * 40, "calls": [[i, f"span{i:012d}", None, True] for i in range(40)]}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        values = [dumps(doc) for _ in range(200)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert values[0] == orjson.dumps(doc)
    assert held < 1.2 * sum(map(len, values)) + 100 * len(values)
