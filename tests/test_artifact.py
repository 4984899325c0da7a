"""The model directory (needmap.artifact) on its own: what save_artifact writes, byte for byte where it
matters, and every way load_artifact refuses a directory that is not the one it wrote.

Expected values come from the standard library (json, hashlib, os) and safetensors, not from needmap."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from needmap.artifact import FILES, FORMAT_VERSION, OPTIONAL_FILES, load_artifact, save_artifact
from needmap.errors import ArtifactError, ReadingNote
from needmap.model_place import MANIFEST, write_manifest


def _parts(**changes: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "model": {"architecture": "mlp", "hidden": [4, 2]},
        "schema": {"target": "y", "columns": [{"name": "x", "role": "numeric"}]},
        "preprocessor": {"format": "needmap.preprocessor", "version": 2},
        "state_dict": {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "layer.bias": torch.ones(2)},
        "metrics": {"test": {"auc": 0.75}},
        "card": "# A model\n\nTrained on x.\n",
    }
    parts.update(changes)
    return parts


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_format_version_and_file_names_are_those_of_the_documented_layout() -> None:
    assert FORMAT_VERSION == 1
    assert FILES == ("model.json", "schema.json", "preprocessor.json", "weights.safetensors", "metrics.json", "card.md")
    assert OPTIONAL_FILES == (
        "evaluation.json",
        "profile.json",
        "calibration.json",
        "tuning.json",
        "baselines.json",
        "selection.json",
        "events.json",
        "btyd.json",
        "population.json",
    )


def test_save_writes_each_file_as_given_and_records_version_and_weights_checksum(tmp_path: Path) -> None:
    parts = _parts()
    out = save_artifact(tmp_path / "runs" / "nested" / "model", **parts)  # the parent folders are made
    assert out == tmp_path / "runs" / "nested" / "model"
    assert sorted(p.name for p in out.iterdir()) == sorted((*FILES, MANIFEST))

    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert model == {
        "architecture": "mlp",
        "hidden": [4, 2],
        "format_version": 1,
        "weights_sha256": _sha256(out / "weights.safetensors"),
    }
    assert "format_version" not in parts["model"]  # the caller's dict is left as it was
    for name, key in (("schema.json", "schema"), ("preprocessor.json", "preprocessor"), ("metrics.json", "metrics")):
        text = (out / name).read_text(encoding="utf-8")
        assert text == json.dumps(parts[key], indent=2) + "\n"
    assert (out / "card.md").read_text(encoding="utf-8") == parts["card"]
    weights = load_file(str(out / "weights.safetensors"))
    assert set(weights) == {"layer.weight", "layer.bias"}
    assert torch.equal(weights["layer.weight"], parts["state_dict"]["layer.weight"])
    assert torch.equal(weights["layer.bias"], torch.ones(2))


def test_a_large_document_is_written_compact_and_reads_back_the_same(tmp_path: Path) -> None:
    """Past INDENTED_JSON_MAX_CHARS a model file is compact JSON (Python indents in pure Python, several times
    slower): the same document when read; small files stay indented, as the test above pins."""
    from needmap import artifact

    big = {"vocabulary": [f"value {i}" for i in range(artifact.INDENTED_JSON_MAX_CHARS // 8)], "scale": 0.1}
    out = save_artifact(tmp_path / "model", **_parts(preprocessor=big))
    text = (out / "preprocessor.json").read_text(encoding="utf-8")
    assert text == json.dumps(big, separators=(",", ":")) + "\n"
    assert json.loads(text) == big and len(text) > artifact.INDENTED_JSON_MAX_CHARS
    assert load_artifact(out).preprocessor == big


def test_save_writes_contiguous_copies_of_views(tmp_path: Path) -> None:
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    view = base.t()  # not contiguous: safetensors refuses such a tensor as it is
    assert not view.is_contiguous()
    out = save_artifact(tmp_path / "m", **_parts(state_dict={"w": view}))
    assert torch.equal(load_file(str(out / "weights.safetensors"))["w"], view)


def test_saved_directory_and_files_get_the_permissions_of_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        out = save_artifact(tmp_path / "m", **_parts(extras={"profile.json": {"rows": 3}}))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for file in out.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o640, file.name


def test_the_usual_umask_gives_0755_and_0644(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        out = save_artifact(tmp_path / "m", **_parts())
        assert _current_umask() == 0o022  # reading the umask left it as it was
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert {stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()} == {0o644}


def test_save_replaces_an_existing_model_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "m"
    save_artifact(target, **_parts(extras={"profile.json": {"rows": 3}}, card="old"))
    save_artifact(target, **_parts(card="new"))
    assert (target / "card.md").read_text(encoding="utf-8") == "new"
    assert not (target / "profile.json").exists()  # the old directory is gone, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging or old directory left


def test_a_failed_save_leaves_the_old_model_and_no_staging_directory(tmp_path: Path) -> None:
    target = tmp_path / "m"
    save_artifact(target, **_parts(card="old"))
    with pytest.raises(ValueError):  # NaN is not JSON: json.dump(allow_nan=False) refuses it
        save_artifact(target, **_parts(metrics={"test": {"auc": float("nan")}}, card="new"))
    assert (target / "card.md").read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_extras_are_written_and_read_back_and_unknown_ones_refused(tmp_path: Path) -> None:
    extras = {"calibration.json": {"method": "platt", "slope": 1.0, "intercept": 0.0}, "tuning.json": {"trials": []}}
    out = save_artifact(tmp_path / "m", **_parts(extras=extras))
    assert json.loads((out / "calibration.json").read_text(encoding="utf-8")) == extras["calibration.json"]
    assert load_artifact(out).extras == extras

    with pytest.raises(ArtifactError, match=r"unknown optional model file\(s\) \['notes.json'\]"):
        save_artifact(tmp_path / "other", **_parts(extras={"notes.json": {}, "tuning.json": {}}))
    assert not (tmp_path / "other").exists()


def test_save_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.write_text("not a model", encoding="utf-8")
    with pytest.raises(ArtifactError, match="exists and is not a directory"):
        save_artifact(target, **_parts())
    assert target.read_text(encoding="utf-8") == "not a model"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_load_reads_back_everything_that_was_saved(tmp_path: Path) -> None:
    parts = _parts()
    out = save_artifact(tmp_path / "m", **parts)
    contents = load_artifact(str(out))  # a str path works as well as a Path
    assert contents.model["architecture"] == "mlp"
    assert contents.model["format_version"] == 1
    assert contents.schema == parts["schema"]
    assert contents.preprocessor == parts["preprocessor"]
    assert contents.metrics == parts["metrics"]
    assert contents.card == parts["card"]
    assert contents.extras == {}
    assert set(contents.state_dict) == {"layer.weight", "layer.bias"}
    assert torch.equal(contents.state_dict["layer.weight"], parts["state_dict"]["layer.weight"])


def test_a_model_without_its_card_loads_with_an_empty_one(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    (out / "card.md").unlink()
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    assert load_artifact(out).card == ""


def test_load_refuses_a_path_that_is_no_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no model directory there") as missing:
        load_artifact(tmp_path / "nowhere")
    assert missing.value.file == str(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ArtifactError, match="no model directory there"):
        load_artifact(tmp_path / "file")


@pytest.mark.parametrize("name", ["model.json", "schema.json", "preprocessor.json", "metrics.json"])
def test_a_missing_json_file_is_named(tmp_path: Path, name: str) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    (out / name).unlink()
    with pytest.raises(ArtifactError, match=rf"has no '{name}'") as error:
        load_artifact(out)
    assert error.value.file == str(out)
    assert "copied completely" in error.value.hint


@pytest.mark.parametrize("name", ["model.json", "schema.json", "preprocessor.json", "metrics.json", "tuning.json"])
def test_a_json_file_that_does_not_parse_is_named(tmp_path: Path, name: str) -> None:
    out = save_artifact(tmp_path / "m", **_parts(extras={"tuning.json": {"trials": []}}))
    (out / name).write_text('{"cut": ', encoding="utf-8")
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    with pytest.raises(ArtifactError, match=rf"'{name}' is not valid JSON") as error:
        load_artifact(out)
    assert error.value.file == str(out)
    assert "corrupted" in error.value.hint


def test_a_json_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    (out / "metrics.json").write_bytes(b'{"auc": "\xff"}')
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    with pytest.raises(ArtifactError, match=r"'metrics\.json' is not valid JSON"):
        load_artifact(out)


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_another_format_version_is_refused(tmp_path: Path, version: Any) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    if version is None:
        del model["format_version"]
    else:
        model["format_version"] = version
    (out / "model.json").write_text(json.dumps(model), encoding="utf-8")
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    with pytest.raises(ArtifactError, match=rf"format version {version!r}; this needmap reads format version 1"):
        load_artifact(out)


def test_a_model_json_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    (out / "model.json").write_text("[1, 2]", encoding="utf-8")
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    with pytest.raises(ArtifactError, match="format version None"):
        load_artifact(out)


def test_missing_weights_are_refused(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    (out / "weights.safetensors").unlink()
    with pytest.raises(ArtifactError, match=r"has no 'weights\.safetensors'"):
        load_artifact(out)


def test_weights_that_differ_from_the_recorded_checksum_are_refused(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    recorded = json.loads((out / "model.json").read_text(encoding="utf-8"))["weights_sha256"]
    # the same tensor names and shapes, other values: a file safetensors reads without complaint
    save_file({"layer.weight": torch.zeros(2, 3), "layer.bias": torch.ones(2)}, str(out / "weights.safetensors"))
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    found = _sha256(out / "weights.safetensors")
    with pytest.raises(ArtifactError, match=r"'weights\.safetensors' is corrupted") as error:
        load_artifact(out)
    assert f"its sha256 is {found[:12]}…, the model recorded {recorded[:12]}…" in str(error.value)


def test_weights_that_safetensors_cannot_read_are_refused_even_with_a_matching_checksum(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts())
    weights = out / "weights.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    model["weights_sha256"] = _sha256(weights)
    (out / "model.json").write_text(json.dumps(model), encoding="utf-8")
    write_manifest(out)  # sealed again: the content, not the manifest, is under test
    with pytest.raises(ArtifactError, match=r"'weights\.safetensors' cannot be read"):
        load_artifact(out)


def test_only_the_optional_files_present_are_read(tmp_path: Path) -> None:
    out = save_artifact(tmp_path / "m", **_parts(extras={"baselines.json": {"version": 1, "baselines": []}}))
    (out / "notes.json").write_text("{}", encoding="utf-8")  # not an optional file of the format
    (out / "profile.json").mkdir()  # not a file
    with pytest.raises(ArtifactError, match=r"holds 'profile\.json', which its manifest does not list"):
        load_artifact(out)  # a name that loading reads, added after the save
    (out / "profile.json").rmdir()
    with pytest.warns(ReadingNote, match=r"holds 'notes\.json', which its manifest does not list .* ignored"):
        assert load_artifact(out).extras == {"baselines.json": {"version": 1, "baselines": []}}


def test_the_new_directory_is_staged_beside_the_target_under_a_hidden_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Staged in the target's own folder, the final rename stays on one file system, where it is atomic.
    renames: list[tuple[Path, Path]] = []
    replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "m"
    save_artifact(target, **_parts())
    ((staged, final),) = renames
    assert final == target and staged.parent == tmp_path and staged.name.startswith(".m.")


def test_the_umask_is_read_without_proc_too_and_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import needmap.output_files as artifact

    class NoProc(type(Path())):  # type: ignore[misc]
        def read_bytes(self) -> bytes:
            raise OSError("no /proc on this system")

        def read_text(self, *args: Any, **kwargs: Any) -> str:
            raise OSError("no /proc on this system")

    previous = os.umask(0o027)
    try:
        assert artifact.current_umask() == 0o027  # from /proc/self/status on Linux
        monkeypatch.setattr(artifact, "Path", NoProc)
        assert artifact.current_umask() == 0o027  # from os.umask elsewhere
        assert _current_umask() == 0o027
    finally:
        os.umask(previous)


def _linux_umask_line() -> bool:
    try:
        return b"\nUmask:" in Path("/proc/self/status").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(not _linux_umask_line(), reason="no Umask line in /proc/self/status (not Linux)")
def test_where_linux_shows_the_umask_it_is_read_without_setting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # os.umask sets the mask while reading it: another thread would create files with 0o022 meanwhile
    import needmap.output_files as artifact

    calls: list[int] = []
    real_umask = os.umask

    def spy(mask: int) -> int:
        calls.append(mask)
        return real_umask(mask)

    previous = real_umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", spy)
        assert artifact.current_umask() == 0o027
        assert calls == []
    finally:
        real_umask(previous)


@pytest.mark.skipif(not Path("/proc/self/comm").is_file(), reason="needs Linux's prctl(PR_SET_NAME)")
def test_a_process_whose_name_is_not_ascii_saves_a_model(tmp_path: Path) -> None:
    # A script named análisis.py run by its shebang has that name in the first line of /proc/self/status;
    # decoding the file as ASCII raised UnicodeDecodeError out of save_artifact.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_name = 15
    original = Path("/proc/self/comm").read_bytes().rstrip(b"\n")
    assert libc.prctl(pr_set_name, "análisis.py".encode(), 0, 0, 0) == 0
    try:
        assert "análisis".encode() in Path("/proc/self/status").read_bytes().splitlines()[0]
        previous = os.umask(0o027)
        try:
            out = save_artifact(tmp_path / "m", **_parts())
        finally:
            os.umask(previous)
    finally:
        libc.prctl(pr_set_name, original, 0, 0, 0)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


class _Interrupted(BaseException):
    """Stands for whatever stops a save between two steps: Ctrl-C, a full disk, a killed thread."""


def stopping_at(step: int) -> Any:
    """``stop_at(name, real)``: ``real`` wrapped to count as one step of a save, each wrapped call the next step;
    the call that is step ``step`` (from 0) raises :class:`_Interrupted` named after its step instead of running."""
    taken: list[str] = []

    def stop_at(name: str, real: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            taken.append(name)
            if len(taken) - 1 == step:
                raise _Interrupted(name)
            return real(*args, **kwargs)

        return run

    return stop_at


@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_replacement_by_two_renames_stopped_at_any_rename_or_removal_leaves_a_whole_model_at_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    # Where the file system cannot swap two directories, replacing a model takes three steps: the older
    # directory renamed aside (0), the new one renamed to the path (1), the older one removed (2). Stopped at
    # each, the exception comes out unchanged, the path holds the older model before step 1 and the newer from
    # it on, and no staging directory is left.
    import needmap.model_place as model_place

    target = tmp_path / "m"
    save_artifact(target, **_parts(card="old"))
    stop_at = stopping_at(step)
    replace, rmtree = os.replace, shutil.rmtree

    monkeypatch.setattr(model_place, "exchange", lambda one, other: False)
    monkeypatch.setattr(os, "replace", stop_at("replace", replace))
    monkeypatch.setattr(shutil, "rmtree", stop_at("rmtree", rmtree))
    with pytest.raises(_Interrupted, match=["replace", "replace", "rmtree"][step]):
        save_artifact(target, **_parts(card="new"))
    monkeypatch.undo()
    assert load_artifact(target).card == ("old" if step < 2 else "new")
    left = sorted(p.name for p in tmp_path.iterdir())
    if step < 2:
        assert left == ["m"]
    else:  # stopped before removing it: the older directory stays beside the new model, under a hidden name
        assert len(left) == 2 and left[0].startswith(".m.needmap-") and left[0].endswith(".old") and left[1] == "m"


def test_a_failed_first_save_leaves_nothing_and_raises_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        save_artifact(tmp_path / "m", **_parts(metrics={"auc": float("inf")}))
    assert list(tmp_path.iterdir()) == []


def test_an_older_model_that_cannot_be_removed_does_not_fail_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Removing the older directory is tidying up after the new model is in place: a file in it that
    # cannot be deleted (another user's, a read-only mount) leaves it behind, and the save still succeeds.
    target = tmp_path / "m"
    save_artifact(target, **_parts(card="old"))
    unlink = os.unlink

    def refuse_locked(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path).endswith("card.md") and kwargs.get("dir_fd") is not None:  # rmtree's, not the save's
            raise PermissionError(13, "Permission denied", os.fspath(path))
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse_locked)
    out = save_artifact(target, **_parts(card="new"))
    monkeypatch.undo()
    assert out == target and load_artifact(target).card == "new"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".m.needmap-") and left[1] == "m"
    assert sorted(p.name for p in (tmp_path / left[0]).iterdir()) == ["card.md"]


@pytest.mark.skipif(sys.flags.utf8_mode == 1, reason="Python's UTF-8 mode reads and writes UTF-8 whatever the locale")
def test_the_text_files_are_utf8_under_a_locale_that_is_not(tmp_path: Path) -> None:
    # Under the C locale (ASCII here; cp1252 on a Windows machine) a file opened without an encoding is
    # written and read in that encoding: a card or a column name with an accent would fail or change.
    import locale

    card = "# Modèle\n\nColonnes : Größe, prénom — 3 €\n"
    schema = {"target": "y", "columns": [{"name": "Größe", "role": "numeric"}]}
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")
        if locale.getencoding().lower().replace("-", "") in ("utf8", "utf_8"):
            pytest.skip("this C locale is UTF-8")
        out = save_artifact(tmp_path / "m", **_parts(card=card, schema=schema))
        # a schema.json edited by hand and saved as UTF-8 text, not as JSON's \u escapes
        (out / "schema.json").write_bytes(json.dumps(schema, ensure_ascii=False).encode("utf-8"))
        write_manifest(out)  # sealed again: the content, not the manifest, is under test
        contents = load_artifact(out)
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)
    assert (out / "card.md").read_bytes() == card.encode("utf-8")
    assert contents.card == card
    assert contents.schema == schema
