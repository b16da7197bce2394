"""Fixtures: a real DagsterInstance in a temp DAGSTER_HOME (sqlite) and the step host as a
real subprocess on a socketpair (fd 3, as an opfleet worker starts it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from hostkit import StepHost

collect_ignore = ["locations"]


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.local_temp(str(home)) as inst:
        yield inst


@pytest.fixture
def step_host_factory(tmp_path: Path) -> Iterator[Callable[..., StepHost]]:
    hosts: list[StepHost] = []

    def start(*preloads: str) -> StepHost:
        host = StepHost(tmp_path, list(preloads))
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.close()
