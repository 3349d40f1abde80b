"""A stream with thousands of chunks: record and replay time and peak memory, by size.

Records a chat stream of N chunks from the local OpenAI-compatible server (the user message
``COUNT <n>`` makes it answer with n numbered words) through vcrpy + llama-vcr, then replays it
offline; tracemalloc gives the peak. Memory must grow linearly with N (constant bytes/chunk).

    python benchmarks/bench_big_stream.py [--sizes 1000,2500,5000,10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import openai
import vcr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llama_vcr import CODEC
from llama_vcr._vcrpy import configure_vcr
from tests.fakes.server import FakeProviderServer


def run(recorder: vcr.VCR, path: str, base_url: str, n: int) -> tuple[float, int, int]:
    client = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    tracemalloc.start()
    start = time.perf_counter()
    with recorder.use_cassette(path):
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"COUNT {n}"}], stream=True
        )
        chunks = sum(1 for _ in stream)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2500,5000,10000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"{'chunks':>7} {'record s':>9} {'replay s':>9} {'record peak':>12} {'replay peak':>12} "
        f"{'file':>9} {'replay B/chunk':>15}"
    )
    with tempfile.TemporaryDirectory() as tmp, FakeProviderServer() as server:
        for n in sizes:
            path = str(Path(tmp) / f"stream_{n}")
            recorder = vcr.VCR(record_mode="once")
            configure_vcr(recorder, CODEC, f"bench::stream_{n}")
            record_s, record_peak, chunks = run(recorder, path, server.base_url, n)
            replayer = vcr.VCR(record_mode="none")
            configure_vcr(replayer, CODEC, f"bench::stream_{n}")
            replay_s, replay_peak, replayed = run(replayer, path, "http://127.0.0.1:9/v1", n)
            assert replayed == chunks
            size = sum(f.stat().st_size for f in Path(path).glob("*.json"))
            print(
                f"{chunks:>7} {record_s:>9.3f} {replay_s:>9.3f} {record_peak / 2**20:>10.1f}MB "
                f"{replay_peak / 2**20:>10.1f}MB {size / 2**20:>7.1f}MB {replay_peak / chunks:>15,.0f}"
            )


if __name__ == "__main__":
    main()
