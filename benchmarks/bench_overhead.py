"""Per-request overhead of replay versus the floor.

Two floors: (1) what any replay must do with a recording: read the file, ``json.loads`` it and
``model_validate`` the objects; (2) the same openai SDK calls answered from memory by an httpx
MockTransport, i.e. the SDK's own cost with no recorder at all. llama-vcr replay is timed end to
end through vcrpy and the real SDK (cassette opened once per test, as pytest does).
Target: <= 2x the floor.

    python benchmarks/bench_overhead.py [--tests 100] [--requests 5] [--size 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _suite import llama_vcr_recorder, replay_suite, sdk_only, write_suite
from openai.types.chat import ChatCompletion, ChatCompletionChunk


def floor(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        document = json.loads(path.read_text())
        body = document["response"]["body"]
        if document["response"]["is_streaming"]:
            for chunk in body:
                ChatCompletionChunk.model_validate(chunk["__data__"])
        else:
            ChatCompletion.model_validate(body["__data__"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--size", type=int, default=40, help="chunks per stream / words per reply")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root, args.tests, args.requests, size=args.size)
        dirs = [str(root / "llama" / f"test_{t}") for t in range(args.tests)]
        files = sorted((root / "llama").rglob("*.json"))
        floors = [floor(files) for _ in range(args.repeat)]
        replays = [replay_suite(llama_vcr_recorder(), dirs, args.requests) for _ in range(args.repeat)]
        sdk_floors = [sdk_only(dirs, args.requests) for _ in range(args.repeat)]
    n = args.tests * args.requests
    best_floor, best_replay, best_sdk = min(floors), min(replays), min(sdk_floors)
    print(f"{n} chat requests ({args.size} chunks per stream, half streamed), best of {args.repeat}")
    print(f"  floor 1: json.loads + model_validate      : {best_floor / n * 1e6:8.1f} us/request")
    print(f"  floor 2: the SDK call, in-memory transport : {best_sdk / n * 1e6:8.1f} us/request")
    print(f"  llama-vcr replay through the SDK           : {best_replay / n * 1e6:8.1f} us/request")
    print(f"  ratio replay / floor 1                     : {best_replay / best_floor:.2f}x  (target <= 2x)")
    print(f"  ratio replay / floor 2                     : {best_replay / best_sdk:.2f}x")
    print(f"  llama-vcr's own cost per request           : {(best_replay - best_sdk) / n * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
