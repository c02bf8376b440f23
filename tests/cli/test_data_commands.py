"""The operator's commands for user data: accounts show/export-data/delete, audit, project archives."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

from ..conftest import LiveServer
from ..data.conftest import Filled, dead_links, fill_project, scan, sdk
from ..data.test_export_data import check_manifest, check_project
from ..data.test_transfer import labels
from .conftest import cli, json_lines


def test_accounts_show_prints_usage_without_keys(source: LiveServer) -> None:
    keys = source.new_account()
    fill_project(source, keys, "showme")
    code, out = cli("accounts", "show", keys.name, "--data-dir", source.settings.data_dir)
    assert code == 0, out
    info = json.loads(out)
    assert info["usage"]["images"] == 6 and info["usage"]["storedPredictions"] == 3
    assert keys.training_key not in out and keys.prediction_key not in out
    code, out = cli("accounts", "show", "no-such-account", "--data-dir", source.settings.data_dir)
    assert code == 1 and "No account named" in out


def test_accounts_export_data_writes_the_zip(source: LiveServer, tmp_path: Path) -> None:
    keys = source.new_account()
    filled = fill_project(source, keys, "clizip")
    out_file = tmp_path / "mine.zip"

    code, out = cli("accounts", "export-data", keys.name, "--data-dir", source.settings.data_dir,
                    "--output", out_file)

    assert code == 0, out
    assert json_lines(out)[-1]["bytes"] == out_file.stat().st_size
    zf = zipfile.ZipFile(io.BytesIO(out_file.read_bytes()))
    check_manifest(zf)
    check_project(zf, f"projects/{filled.project_id}/", filled)
    assert not list(tmp_path.glob("*.part"))
    assert json.loads(zf.read("audit.json"))[-1]["actor"] == "cli"


def test_accounts_delete_needs_yes_then_erases_and_is_audited(source: LiveServer) -> None:
    keys = source.new_account(f"clidel-{uuid.uuid4().hex[:6]}")
    filled: Filled = fill_project(source, keys, "clidelete")
    data_dir = source.settings.data_dir

    code, out = cli("accounts", "delete", keys.name, "--data-dir", data_dir)
    assert code == 2 and "--yes" in out
    assert sdk(source, keys).get_projects()  # still there

    code, out = cli("accounts", "delete", keys.name, "--data-dir", data_dir, "--yes")

    assert code == 0, out
    assert json.loads(out) == {"deleted": str(keys.id), "projects": 1, "images": 6, "iterations": 1,
                               "predictions": 3, "exports": 1, "files": json.loads(out)["files"]}
    needles = {**filled.needles(), "project": [uuid.UUID(filled.project_id).hex.encode()],
               "account": [keys.name.encode()]}
    assert scan(data_dir, needles, audit_may_hold=[str(keys.id).encode(), keys.id.hex.encode()]) == []
    assert set(dead_links(filled.links)) == {404}

    code, out = cli("audit", "--data-dir", data_dir, "--account", str(keys.id))
    assert code == 0, out
    [event] = json_lines(out)
    assert event["action"] == "account.delete" and event["actor"] == "cli" and event["targetId"] == str(keys.id)
    assert keys.name not in out
    code, out = cli("audit", "--data-dir", data_dir, "--account", "never-existed")
    assert code == 1


def test_audit_lists_deletions_of_an_account_by_name(source: LiveServer) -> None:
    keys = source.new_account()
    filled = fill_project(source, keys, "auditme")
    trainer = sdk(source, keys)
    trainer.delete_prediction(filled.project_id, filled.prediction_ids[:1])
    trainer.delete_images(filled.project_id, filled.image_ids[:2])
    trainer.delete_project(filled.project_id)
    code, out = cli("audit", "--data-dir", source.settings.data_dir, "--account", keys.name)
    assert code == 0, out
    events = json_lines(out)
    assert [e["action"] for e in events] == ["project.delete", "images.delete", "predictions.delete"]
    assert events[1]["detail"] == "images=2" and events[2]["detail"] == "predictions=1"
    assert "auditme" not in out  # ids and counts, never names or content


def test_project_archive_via_data_folders(source: LiveServer, target: LiveServer, tmp_path: Path) -> None:
    skeys = source.new_account()
    filled = fill_project(source, skeys, "clidirarchive")
    tkeys = target.new_account()
    archive = tmp_path / "p.zip"

    code, out = cli("projects", "export-archive", filled.project_id, "--data-dir", source.settings.data_dir,
                    "--output", archive)
    assert code == 0, out
    code, out = cli("projects", "import-archive", archive, "--data-dir", target.settings.data_dir,
                    "--account", tkeys.name, "--name", "landed")

    assert code == 0, out
    result = json.loads(out)
    assert (result["name"], result["images"], result["tags"], result["regions"], result["iterations"]) == (
        "landed", 6, 2, 1, 1)
    assert labels(sdk(target, tkeys), result["id"]) == labels(sdk(source, skeys), filled.project_id)


def test_project_archive_via_endpoints(source: LiveServer, target: LiveServer, tmp_path: Path) -> None:
    skeys = source.new_account()
    filled = fill_project(source, skeys, "cliurlarchive")
    tkeys = target.new_account()
    archive = tmp_path / "p.zip"

    code, out = cli("projects", "export-archive", filled.project_id, "--endpoint", source.url,
                    "--training-key", skeys.training_key, "--output", archive, "--no-iterations")
    assert code == 0, out
    code, out = cli("projects", "import-archive", archive, "--endpoint", target.url,
                    "--training-key", tkeys.training_key)

    assert code == 0, out
    project = json.loads(out)
    assert project["name"] == "cliurlarchive-project" and project["status"] == "Succeeded"
    assert labels(sdk(target, tkeys), project["id"]) == labels(sdk(source, skeys), filled.project_id)
    assert sdk(target, tkeys).get_iterations(project["id"]) == []

    code, out = cli("projects", "export-archive", str(uuid.uuid4()), "--endpoint", source.url,
                    "--training-key", skeys.training_key, "--output", tmp_path / "none.zip")
    assert code == 1 and "NotFoundProject" in out and not (tmp_path / "none.zip").exists()
