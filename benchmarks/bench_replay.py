"""Replay of a synthetic suite: llama-vcr recordings vs vcrpy's default YAML cassettes.

200 tests x 5 chat requests (streaming and not), the same interactions in both formats, replayed
through the real openai SDK in the same process, alternating, best of N. Target: <= 0.5x YAML.

    python benchmarks/bench_replay.py [--tests 200] [--requests 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _suite import llama_vcr_recorder, replay_suite, replay_transport, write_suite, yaml_recorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root, args.tests, args.requests)
        llama_paths = [str(root / "llama" / f"test_{t}") for t in range(args.tests)]
        yaml_paths = [str(root / "yaml" / f"test_{t}.yaml") for t in range(args.tests)]
        n = args.tests * args.requests
        print(f"replay of {args.tests} tests x {args.requests} chat requests ({n}), best of {args.repeat}")
        for label, replay in (
            ("through the openai SDK", replay_suite),
            ("HTTP only (httpx)", replay_transport),
        ):
            llama_times, yaml_times = [], []
            for _ in range(args.repeat):
                yaml_times.append(replay(yaml_recorder(), yaml_paths, args.requests))
                llama_times.append(replay(llama_vcr_recorder(), llama_paths, args.requests))
            best_llama, best_yaml = min(llama_times), min(yaml_times)
            print(f"  {label}:")
            print(f"    vcrpy YAML cassettes : {best_yaml:7.3f} s  ({best_yaml / n * 1e6:7.1f} us/request)")
            print(f"    llama-vcr recordings : {best_llama:7.3f} s  ({best_llama / n * 1e6:7.1f} us/request)")
            print(f"    ratio llama-vcr/YAML : {best_llama / best_yaml:.2f}x  (target <= 0.50x)")


if __name__ == "__main__":
    main()
