"""A replay never writes into the project's media folder: MEDIA_ROOT (and a storage location
set from it) is a temporary folder of the run, removed when the run ends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test.utils import override_settings

from harness.scenario import LoadSpec, Scenario

pytestmark = pytest.mark.dbpath

START = dt.datetime(2026, 9, 15, 10, 0, tzinfo=dt.UTC)


def _scenario() -> Scenario:
    return Scenario(
        name="exports",
        start=START,
        duration=dt.timedelta(minutes=5),
        seed=1,
        loads=[
            LoadSpec(
                name="exports",
                call="tests.fixture_apps.files.enqueue_export",
                args=["{n}"],
                at=[dt.timedelta(minutes=1), dt.timedelta(minutes=2)],
            )
        ],
    )


def _written(result) -> list[dict[str, str]]:
    return [e.data["returned"] for e in result.timeline.of("task.finished")]


def _check(result, media: Path) -> None:
    written = _written(result)
    assert len(written) == 2 and result.verdict("lost-jobs").ok
    for w in written:
        assert not Path(w["path"]).is_relative_to(media), w
        assert Path(w["path"]).is_relative_to(w["media_root"]), w
        assert not Path(w["media_root"]).exists()  # the run's folder is gone with the run
    assert not media.exists() or not any(media.rglob("*"))


def test_task_files_go_to_a_folder_of_the_run_not_the_projects_media(run_scenario, tmp_path):
    media = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(media)):
        _check(run_scenario(_scenario()), media)


def test_a_storage_location_set_from_media_root_moves_with_it(run_scenario, tmp_path):
    media = tmp_path / "media"
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media / "private")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(MEDIA_ROOT=str(media), STORAGES=storages):
        result = run_scenario(_scenario())
    _check(result, media)
    assert all(Path(w["path"]).parent.parent.name == "private" for w in _written(result))
