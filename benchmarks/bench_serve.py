"""Load test of the service: single-customer predict with a DeepFM model, features in the request and features
from Redis, through HTTP on loopback (wrk, from Debian's packages).

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_serve --seconds 15

What it does, all on this machine:

1. A generated purchase log (``needmap.events.generate.purchase_log``, ``--customers`` customers, 400 days,
   seed 0) becomes feature tables at three monthly cutoffs (``needmap.features``); a DeepFM learns
   ``label_bought`` (2 epochs, seed 0) and is saved.
2. Today's features (the log's last day, no labels, the model's definitions) go to Redis
   (``needmap.events.redis_write.write_online_features``, database ``--redis``'s).
3. ``needmap serve MODEL --workers 1 --features REDIS`` starts on a free loopback port.
4. wrk (one thread) posts ``{"rows": [one customer]}`` to ``/v1/models/model/predict``, cycling over the
   customers: with every feature in the body, and with the customer id alone (the features from Redis). Per
   mode: a run at ``--rate`` requests/s (4 connections, each waiting after every response a delay set from
   two short trial runs so that together they ask ``--rate``: wrk has no fixed-rate mode, so the rate reached
   is reported beside the one asked for), then runs without waiting at 1, 2, 4, 8 and 16 connections, whose
   highest rate with a p99 under 50 ms is reported.

Latencies are wrk's: from the request written to the response read, per request. Errors: connection, read,
write, timeout, and responses other than 2xx or 3xx. Nothing else may run on the machine meanwhile; the load
generator shares its cores with the service, as it would on a one-box deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

LUA = """
local bodies = {
%(bodies)s
}
local i = 0
local pause = %(delay)d
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "%(path)s", nil, bodies[i])
end
if pause > 0 then delay = function() return pause end end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, "status_errors": %%d, "p50_ms": %%.3f, ' ..
    '"p90_ms": %%.3f, "p99_ms": %%.3f, "max_ms": %%.3f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(script: Path, url: str, connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run; its RESULT line as a dict, with the rate reached."""
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    result["connections"] = connections
    return result


#: Connections of the run at a fixed rate: each waits between its requests so that together they ask ``--rate``.
PACED_CONNECTIONS = 4


def paced_run(work: Path, bodies: list[str], path: str, base: str, rate: int, seconds: int) -> dict[str, Any]:
    """A run at about ``rate`` requests/s: wrk waits a delay after each response, so each connection's cycle is
    the delay plus the latency; two short runs measure that latency and set the delay, then the run is made."""
    script = work / "paced.lua"
    delay = PACED_CONNECTIONS * 1000 / rate
    for _ in range(2):
        script.write_text(lua(bodies, path, round(delay)))
        trial = wrk(script, base, PACED_CONNECTIONS, 5)
        cycle_ms = PACED_CONNECTIONS * 1000 / trial["rate"]  # delay + the time a request takes, measured
        delay = max(0.0, delay + PACED_CONNECTIONS * 1000 / rate - cycle_ms)
    script.write_text(lua(bodies, path, round(delay)))
    result = wrk(script, base, PACED_CONNECTIONS, seconds)
    result["delay_ms"] = round(delay)
    return result


def lua(bodies: list[str], path: str, delay_ms: int) -> str:
    quoted = ",\n".join(f"[==[{b}]==]" for b in bodies)
    return LUA % {"bodies": quoted, "delay": delay_ms, "path": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=15, help="Length of each wrk run.")
    parser.add_argument("--rate", type=int, default=200, help="The fixed rate asked for, requests/s.")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    import numpy as np

    import needmap as nm
    from needmap.events.generate import purchase_log
    from needmap.events.redis_write import write_online_features
    from needmap.events.table_info import info_of

    options = dict(customer="customer_id", time="time", item="item_id", event="event",
                   amount="quantity * unit_price", category="category", purchase_events="purchase",
                   horizon="30d")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="needmap-bench-serve-"))
    log = purchase_log(customers=args.customers, days=400, seed=0).events
    train = nm.features(log, as_of=["2020-08-01", "2020-09-01", "2020-10-01"], **options)
    model = nm.Model("deepfm", target="label_bought", epochs=2, seed=0, progress=False).fit(train)
    model.save(work / "model")
    last = str(np.asarray(log.column("time")).max().astype("datetime64[D]") + 1)
    today = nm.features(log, as_of=[last], labels=False, like=info_of(train), **options)
    written = write_online_features(today, args.redis)
    ids = [str(v) for v in today.column("customer_id").to_pylist()]
    features = list(model.predictor_.schema_.features)
    rows = today.select([c for c in features if c in today.column_names]).to_pylist()
    full_bodies = [json.dumps({"rows": [{"customer_id": i, **r}]}) for i, r in zip(ids, rows, strict=True)][:500]
    id_bodies = [json.dumps({"rows": [{"customer_id": i}]}) for i in ids][:500]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "needmap", "serve", f"model={work / 'model'}", "--port", str(port), "--workers", "1",
         "--features", args.redis],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "NEEDMAP_API_KEYS": ""},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"the service did not start: {server.stderr.read() if server.stderr else ''}")
        path = "/v1/models/model/predict"
        results: dict[str, Any] = {}
        for mode, bodies in (("features in the request", full_bodies), ("features from Redis", id_bodies)):
            # every body answers 200 before the load starts
            for body in bodies[:20]:
                request = urllib.request.Request(base + path, body.encode(), {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert answer.status == 200, answer.read()
            free = work / f"free-{len(results)}.lua"
            free.write_text(lua(bodies, path, 0))
            wrk(free, base, 2, 3)  # warm-up
            at_rate = paced_run(work, bodies, path, base, args.rate, args.seconds)
            sweep = [wrk(free, base, c, args.seconds) for c in (1, 2, 4, 8, 16)]
            fine = [r for r in sweep if r["p99_ms"] < 50 and r["errors"] == 0 and r["status_errors"] == 0]
            best = max(fine, key=lambda r: r["rate"]) if fine else None
            results[mode] = {"at_rate": at_rate, "sweep": sweep, "highest_rate_p99_under_50ms": best}
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "customers": args.customers,
        "redis_rows": written.rows,
        "rate_asked": args.rate,
        "seconds": args.seconds,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for mode, found in results.items():
        r = found["at_rate"]
        print(f"{mode}: asked {args.rate}/s, reached {r['rate']:.0f}/s: p50 {r['p50_ms']:.2f} ms, p99 "
              f"{r['p99_ms']:.2f} ms, errors {r['errors'] + r['status_errors']}")  # fmt: skip
        for s in found["sweep"]:
            print(f"  {s['connections']:>2} connections: {s['rate']:.0f}/s, p50 {s['p50_ms']:.2f} ms, "
                  f"p99 {s['p99_ms']:.2f} ms, errors {s['errors'] + s['status_errors']}")  # fmt: skip
        best = found["highest_rate_p99_under_50ms"]
        print(f"  highest rate with p99 under 50 ms: {best['rate']:.0f}/s" if best else "  none under 50 ms")
    print(f"written to {args.out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
