"""The "what changed since the last publish" note: kept in each snapshot, shown as an artifact."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.lineage.diff import changes_since

CHANGES_MD = "_changes.md"


def write_changes(previous: Path | None, folder: Path, snapshot: str) -> None:
    """Compare the snapshot being written (`folder`) with the one that is current now."""
    try:
        text = changes_since(previous, folder)
    except Exception as exc:  # noqa: BLE001 - the comparison must never block a valid publish
        get_run_logger().warning("could not compare with snapshot %s: %s", previous, exc)
        text = (
            "# What changed since the last publish\n\n"
            f"Comparing with snapshot `{previous.name if previous else '-'}` failed: {exc}\n"
        )
    (folder / CHANGES_MD).write_text(text.replace(folder.name, snapshot), encoding="utf-8")


def changes_artifact(snapshot: Path, rebuilt: bool = True) -> None:
    if rebuilt and (snapshot / CHANGES_MD).exists():
        markdown = (snapshot / CHANGES_MD).read_text(encoding="utf-8")
    else:
        markdown = (
            "# What changed since the last publish\n\nNothing: no raw file, model or setting "
            f"changed, so snapshot `{snapshot.name}` stays current and nothing was rebuilt.\n"
        )
    create_markdown_artifact(
        markdown=markdown, key="what-changed", description="what changed since the last publish"
    )
