"""The GPU check's driver (called by ``benchmarks/gpu_check.sh``, which sets the environment).

1. Times a ResNet-50 training step at 224 px (``benchmarks/bench_train_step.py``: harlearn's
   step, harlearn's ``fit``, timm's step), one process each, the GPU to itself.
2. Runs every chapter (``book/NN_*.ipynb``) in ``full`` smoke mode with
   ``benchmarks/run_chapter.py``, ``--jobs`` at a time, each capped at ``--chapter-timeout``
   seconds, and never starting one that could not finish inside ``--budget`` seconds in all.
3. Prints one table and writes ``gpu_check.json`` and every log into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], log: Path, timeout: float, env: dict[str, str]) -> tuple[int | None, float]:
    """Run ``cmd`` with output to ``log``; ``(exit status or None on timeout, seconds)``."""
    start = time.perf_counter()
    with open(log, "w") as out:
        # a session of its own, so that a timeout ends the run with its DataLoader workers
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            status = None
    return status, time.perf_counter() - start


def _tail(log: Path, lines: int = 1) -> str:
    text = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(text[-lines:])[-160:] if text else ""


def benchmarks(args, env) -> list[dict]:
    rows = []
    for which in ("harlearn-step", "timm-step", "harlearn-fit"):
        log = args.out / f"bench_{which}.log"
        cmd = [sys.executable, "benchmarks/bench_train_step.py", "--which", which, "--batch", str(args.batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
        if which == "harlearn-fit":
            cmd += ["--workers", str(args.workers)]
        status, seconds = _run(cmd, log, args.bench_timeout, env)
        row = {"which": which, "status": "ok" if status == 0 else ("timeout" if status is None else "failed"),
               "wall_seconds": seconds}
        if status == 0:
            row.update(json.loads(log.read_text().strip().splitlines()[-1]))
        else:
            row["error"] = _tail(log)
        rows.append(row)
        print(f"[bench] {which}: {row['status']} ({seconds:.0f} s)", flush=True)
    return rows


def chapters(args, env) -> list[dict]:
    notebooks = sorted(args.book.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(k) for k in args.only)]
    deadline = time.perf_counter() + args.budget

    def one(nb: Path) -> dict:
        left = deadline - time.perf_counter()
        if left < min(30.0, args.chapter_timeout):
            return {"chapter": nb.stem, "status": "skipped (budget)", "seconds": 0.0}
        log, summary = args.out / f"{nb.stem}.log", args.out / f"{nb.stem}.json"
        summary.unlink(missing_ok=True)
        chapter_env = dict(env, HARLEARN_RESULTS=str(args.out / "results"))
        status, seconds = _run([sys.executable, "benchmarks/run_chapter.py", str(nb), "--json", str(summary)],
                               log, min(args.chapter_timeout, left), chapter_env)
        row = {"chapter": nb.stem, "seconds": seconds,
               "status": "ok" if status == 0 else ("timeout" if status is None else "failed")}
        if summary.is_file():
            cells = json.loads(summary.read_text())
            row.update(slowest_cell=cells["slowest_cell"], slowest_seconds=cells["slowest_seconds"],
                       failed_cell=cells["failed_cell"])
            if cells.get("error"):
                row["error"] = f"cell {cells['failed_cell']}: {cells['error']}"[:200]
        if status != 0 and "error" not in row:
            row["error"] = _tail(log)
        print(f"[chapter] {nb.stem}: {row['status']} ({seconds:.0f} s)", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        return list(pool.map(one, notebooks))


def table(bench: list[dict], chaps: list[dict], args) -> str:
    lines = []
    if bench:
        lines += ["", f"ResNet-50 training step, 224 px, batch {args.batch}, AMP, channels_last "
                      f"({args.steps} timed steps after {args.warmup})",
                  f"{'variant':<15} {'status':<8} {'dtype':<9} {'ms/step':>8} {'img/s':>8} {'peak GiB':>9}"]
    for r in bench:
        if r["status"] == "ok":
            lines.append(f"{r['which']:<15} {'ok':<8} {r['dtype']:<9} {1000 * r['seconds_per_step']:8.1f} "
                         f"{r['images_per_second']:8.0f} {r.get('peak_memory_gib', float('nan')):9.1f}")
        else:
            lines.append(f"{r['which']:<15} {r['status']:<8} {r.get('error', '')}")
    ok = {r["which"]: r for r in bench if r["status"] == "ok"}
    if "harlearn-step" in ok and "timm-step" in ok:
        ratio = ok["harlearn-step"]["seconds_per_step"] / ok["timm-step"]["seconds_per_step"]
        lines.append(f"harlearn step / timm step: {ratio:.2f}x the time")
    lines += ["", f"Chapters in full smoke mode (HARLEARN_PROFILE=full HARLEARN_SMOKE=1), {args.jobs} at a time, "
                  f"cap {args.chapter_timeout:.0f} s each",
              f"{'chapter':<28} {'status':<16} {'wall s':>7} {'slowest cell':>13}"]
    for r in chaps:
        slow = f"#{r['slowest_cell']} {r['slowest_seconds']:.0f} s" if r.get("slowest_cell") else ""
        lines.append(f"{r['chapter']:<28} {r['status']:<16} {r['seconds']:7.0f} {slow:>13}")
        if r.get("error"):
            lines.append(f"    {r['error']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=4, help="chapters run at a time")
    parser.add_argument("--chapter-timeout", type=float, default=120.0)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for all chapters together")
    parser.add_argument("--bench-timeout", type=float, default=90.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="harlearn-fit's DataLoader workers")
    parser.add_argument("--only", nargs="*", help="chapter prefixes, e.g. 04 07")
    parser.add_argument("--book", type=Path, default=REPO / "book", help="the folder of the chapter notebooks")
    parser.add_argument("--skip-bench", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    bench = [] if args.skip_bench else benchmarks(args, env)
    chaps = chapters(args, env)
    report = table(bench, chaps, args)
    print(report)
    (args.out / "gpu_check.json").write_text(json.dumps({"bench": bench, "chapters": chaps}, indent=1))
    (args.out / "gpu_check.txt").write_text(report + "\n")
    return 0 if all(r["status"] == "ok" for r in bench + chaps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
