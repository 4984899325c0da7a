"""The speed benchmark (benchmarks/bench_speed.py): the needmap-cli case (``needmap train`` run whole), the CPU
description every report carries, and the matmul probe's table beside it."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_speed import command_lines, needmap_cli_case, parse_matmul, report  # noqa: E402
from benchmarks.make_criteo_like import generate  # noqa: E402
from benchmarks.report import cpu_info, cpu_line, parse_cpuinfo  # noqa: E402

ROWS = 3000

AMD_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC 9R45 64-Core Processor
stepping\t: 1
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 2
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx_vnni \
avx512_bf16 avx512vbmi avx512_vbmi2 avx512_vnni avx512_bitalg avx512_vpopcntdq avx512_vp2intersect

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC 9R45 64-Core Processor
stepping\t: 1
physical id\t: 0
siblings\t: 2
core id\t\t: 1
cpu cores\t: 2
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx_vnni \
avx512_bf16 avx512vbmi avx512_vbmi2 avx512_vnni avx512_bitalg avx512_vpopcntdq avx512_vp2intersect
"""

# Two hyper-threads of one core of a Sapphire Rapids Xeon.
INTEL_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8488C
stepping\t: 8
physical id\t: 0
core id\t\t: 0
cpu cores\t: 1
flags\t\t: fpu sse sse2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_fp16 \
amx_bf16 amx_tile amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8488C
stepping\t: 8
physical id\t: 0
core id\t\t: 0
cpu cores\t: 1
flags\t\t: fpu sse sse2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_fp16 \
amx_bf16 amx_tile amx_int8
"""

MATMUL_OUTPUT = """CPU vendor AuthenticAMD, x86_64; torch 2.13.0; 2 threads; needmap's choice: onednn
| rows x in -> out | F.linear fp32 | oneDNN fp32 | oneDNN dx | oneDNN dW | MKL dW | F.linear bf16 |
|---|---:|---:|---:|---:|---:|---:|
| 4096 x 624 -> 400 | 101 | 120 | 118 | 95 | 80 | 240 |
| 1 x 624 -> 400 | 3 | 4 | 4 | 2 | 2 | 1 |
"""


def test_the_cpu_description_of_an_amd_and_an_intel_cpuinfo() -> None:
    amd = parse_cpuinfo(AMD_CPUINFO)
    assert amd["model_name"] == "AMD EPYC 9R45 64-Core Processor" and amd["vendor"] == "AuthenticAMD"
    assert (amd["family"], amd["model"], amd["stepping"]) == ("26", "2", "1")
    assert (amd["logical_cpus"], amd["cores"], amd["sockets"]) == (2, 2, 1)
    assert amd["avx512_bf16"] and amd["amx"] == [] and "avx512f" in amd["avx512"] and "avx_vnni" not in amd["avx512"]
    assert len(amd["avx512"]) == 13

    intel = parse_cpuinfo(INTEL_CPUINFO)
    assert intel["vendor"] == "GenuineIntel"
    assert (intel["family"], intel["model"], intel["stepping"]) == ("6", "143", "8")
    assert (intel["logical_cpus"], intel["cores"]) == (2, 1)  # two hyper-threads of one core
    assert intel["amx"] == ["amx_bf16", "amx_int8", "amx_tile"] and intel["avx512_bf16"]

    line = cpu_line({**intel, "usable_cores": 2})
    assert line.startswith("Intel(R) Xeon(R) Platinum 8488C (GenuineIntel family 6 model 143 stepping 8), 1 cores")
    assert "AVX-512 bf16 bw cd dq f fp16 vl" in line and line.endswith("AMX bf16 int8 tile")
    assert cpu_line({**amd, "usable_cores": 2}).endswith("; AMX none")
    assert cpu_line(parse_cpuinfo("")).endswith("CPU flags unknown")  # no /proc/cpuinfo: no flags to tell

    here = cpu_info()  # this machine, whatever it is: a name and a line
    assert here["model_name"] and here["usable_cores"] and cpu_line(here)


def test_the_matmul_probe_table_is_parsed_and_shown_beside_the_cases() -> None:
    gflops = parse_matmul(MATMUL_OUTPUT)
    assert gflops["4096 x 624 -> 400"]["oneDNN fp32"] == 120.0 and gflops["1 x 624 -> 400"]["F.linear bf16"] == 1.0
    lines = [line for line in MATMUL_OUTPUT.splitlines() if line]
    probe = {"command": "python -m benchmarks.bench_matmul --threads 2", "seconds": 42.0, "lines": lines}
    meta = {**_meta(), "matmul": probe}
    text = report([], meta)
    assert "Matmul probe of this CPU, GFLOP/s" in text and "| 4096 x 624 -> 400 | 101 | 120 |" in text
    failed = report([], {**_meta(), "matmul": {"command": "x", "error": "exit 1: boom"}})
    assert "Matmul probe (benchmarks/bench_matmul.py) failed: boom" in failed.replace("exit 1: ", "")


def _meta() -> dict:
    return {
        "data": "criteo.parquet", "rows": ROWS, "train_rows": 2700, "test_rows": 300, "epochs": 1, "threads": 1,
        "cpu": cpu_line(parse_cpuinfo(AMD_CPUINFO)), "when": "today", "command": "bench_speed",
    }  # fmt: skip


@pytest.mark.slow
def test_the_needmap_cli_case_times_the_whole_command_and_reads_its_metrics(tmp_path: Path) -> None:
    data = tmp_path / "criteo.parquet"
    generate(ROWS, data, seed=3)
    tiny = {"embedding_dim": 4, "hidden": (8,), "batch_size": 512}  # the test's sizes, not the benchmark's
    result = needmap_cli_case("deepfm", data, threads=1, epochs=1, precision="fp32", device="cpu", **tiny)
    assert result.library == "needmap-cli" and result.command and result.command.startswith("needmap train ")
    assert result.command_s and result.command_s > 0 and result.end_to_end_s == result.command_s
    assert result.command_peak_rss_mb and result.command_peak_rss_mb > 0
    phases = result.phases or {}
    assert {"read", "prepare", "train", "baselines", "evaluate"} <= set(phases) and min(phases.values()) >= 0
    assert sum(phases.values()) <= result.command_s  # the phases run inside the command
    assert result.train_s and result.train_s > 0 and result.train_rows_per_s and result.train_rows_per_s > 0
    assert result.train_s < result.command_s
    assert 0 < result.train_rows < ROWS and 0 < result.test_rows < ROWS
    assert result.test_auc is not None and 0 <= result.test_auc <= 1
    assert result.scorer and result.scorer_test_auc is not None and 0 <= result.scorer_test_auc <= 1
    assert set(result.baseline_test_auc or {}) == {"logistic regression", "LightGBM"}
    assert all(0 <= v <= 1 for v in (result.baseline_test_auc or {}).values())
    assert "baseline_rows" in asdict(result)  # None while metrics.json records no sample size

    # The report: the case's line with the command beside its training and beside DeepCTR-Torch, its phases.
    case = {**asdict(result), "case": "needmap-cli:deepfm:fp32", "process_s": result.command_s + 1}
    peer = dict(case="deepctr:deepfm:fp32", library="deepctr", model="deepfm", end_to_end_s=result.command_s / 2)
    peer |= {k: None for k in ("train_rows_per_s", "train_s", "preprocess_s", "score_rows_per_s")}
    peer |= {k: None for k in ("predict_rows_per_s", "one_row_p50_ms", "one_row_p99_ms", "test_auc")}
    text = report([case, peer], _meta())
    assert text.splitlines()[0].count("AMD EPYC 9R45 64-Core Processor (AuthenticAMD family 26 model 2 stepping 1)")
    row = next(line for line in text.splitlines() if line.startswith("| needmap-cli:deepfm:fp32 |") and "x (" in line)
    assert f"{result.command_s / result.train_s:.2f}x" in row and "2.00x (deepctr:deepfm:fp32)" in row
    assert "LightGBM 0." in row and "logistic regression 0." in row
    assert "- phases (needmap-cli:deepfm:fp32): read " in text and "`needmap train " in text


def test_the_command_table_sets_its_peak_beside_model_fit_and_its_time_beside_deepctr() -> None:
    cli = {
        "case": "needmap-cli:deepfm:fp32", "library": "needmap-cli", "model": "deepfm", "precision": "fp32",
        "command_s": 52.3, "train_s": 17.8, "train_rows_per_s": 41839.0, "command_peak_rss_mb": 1300.0,
        "test_auc": 0.7887, "phases": {"read": 0.6, "train": 17.8},
    }  # fmt: skip
    fit = {"case": "needmap:deepfm:fp32", "library": "needmap", "model": "deepfm", "precision": "fp32",
           "peak_rss_mb": 1116.0, "end_to_end_s": 23.5}  # fmt: skip
    deepctr = {"case": "deepctr:deepfm:fp32", "library": "deepctr", "model": "deepfm", "precision": "fp32",
               "end_to_end_s": 45.9}  # fmt: skip
    row = next(line for line in command_lines([cli, fit, deepctr]) if line.startswith("| needmap-cli"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5] == "1,300" and cells[6] == "1.16x (1,116 MB)" and cells[-1] == "1.14x (deepctr:deepfm:fp32)"
    alone = next(line for line in command_lines([cli]) if line.startswith("| needmap-cli"))
    assert [c.strip() for c in alone.strip("|").split("|")][6] == "–"  # no Model.fit case: nothing to set beside
