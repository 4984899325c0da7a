"""``needmap serve`` as a user runs it: it refuses to listen beyond loopback without keys, serves, and stops
gracefully on SIGTERM; and the factory each worker builds its app with."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import KEY, customers_table, free_port, no_traceback

pytestmark = pytest.mark.slow  # starts another interpreter


def needmap(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "import sys; from needmap.cli import main; sys.argv = ['needmap', *sys.argv[1:]]; main()"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    environment.pop("NEEDMAP_API_KEYS", None) if env is None or "NEEDMAP_API_KEYS" not in env else None
    return subprocess.Popen([sys.executable, "-c", code, *args], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_no_keys_no_listening_beyond_this_machine(model_dirs: dict[str, Path]) -> None:
    runs = [
        (needmap("serve", str(model_dirs["bank"]), "--host", "0.0.0.0"), "no API key is set; expected keys"),
        (needmap("serve", str(model_dirs["bank"]), "--host", "0.0.0.0", env={"NEEDMAP_API_KEYS": "abc"}),
         "at least 16 characters"),
        (needmap("serve", str(model_dirs["bank"].parent / "nothing-here")), "does not exist"),
    ]  # fmt: skip
    for run, words in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 2 and words in err and no_traceback(err), err


def test_the_command_serves_and_stops_gracefully(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(KEY + "\n", encoding="utf-8")
    port = free_port()
    served = needmap("serve", f"scores={model_dirs['bank']}", str(model_dirs["offers"]), "--port", str(port),
                     "--api-keys-file", str(keys), "--no-access-log")  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert served.poll() is None and time.monotonic() < deadline, served.communicate()
            time.sleep(0.2)
        row = customers_table(1, seed=2).drop_columns(["y"]).to_pylist()
        headers = {"Authorization": f"Bearer {KEY}"}
        answer = httpx.post(f"{url}/v1/models/scores/predict", json={"rows": row}, headers=headers)
        assert answer.status_code == 200 and answer.json()["model"] == "scores"
        assert httpx.post(f"{url}/v1/models/scores/predict", json={"rows": row}).status_code == 401
        names = [m["name"] for m in httpx.get(f"{url}/v1/models", headers=headers).json()["models"]]
        assert names == ["scores", "offers"]
    finally:
        served.send_signal(signal.SIGTERM)
        out, err = served.communicate(timeout=60)
    assert served.returncode == 0, err
    assert "serving 2 models at" in out and "loaded scores (table, deepfm, binary)" in err
    assert "stopped" in err and no_traceback(err)


def test_a_worker_builds_the_app_from_the_environment(model_dirs: dict[str, Path], monkeypatch) -> None:
    from needmap.serve.app import app_from_environment
    from needmap.serve.settings import Limits, Settings

    settings = Settings({"bank": model_dirs["bank"]}, limits=Limits(max_rows=3))
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEEDMAP_API_KEYS", KEY)
    app = app_from_environment()

    async def calls() -> tuple[int, list[str]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker") as client:
            refused = await client.get("/v1/models")
            listed = await client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
            return refused.status_code, [m["name"] for m in listed.json()["models"]]

    assert asyncio.run(calls()) == (401, ["bank"])
    assert app.state.service.settings.limits.max_rows == 3
    monkeypatch.setenv("NEEDMAP_SERVE_MODELS", '{"bank": "/nowhere/at/all"}')
    with pytest.raises(SystemExit) as stopped:
        app_from_environment()
    assert stopped.value.code == 2
