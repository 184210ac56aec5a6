"""Where reports go: the local report directory, and one comment on a GitLab merge request
or a GitHub pull request.

The forges share one interface: `publish(settings, report, plots, files, report_path,
out_dir) -> Posted`, chosen here by the settings' type, so nothing above this package knows
which forge it talks to.  Each forge module is the only importer of its client library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml.publish.common import Posted

if TYPE_CHECKING:
    from dvc_cml.model import RenderedPlot, Report
    from dvc_cml.settings import ForgeSettings


def publish(
    settings: ForgeSettings,
    report: Report,
    plots: Sequence[RenderedPlot],
    files: Mapping[str, bytes],
    report_path: Path,
    out_dir: Path,
) -> Posted:
    """Post (or update) the report comment on the forge the settings are for."""
    from dvc_cml.settings import GitHubSettings

    if isinstance(settings, GitHubSettings):
        from dvc_cml.publish import github

        return github.publish(settings, report, plots, files, report_path, out_dir)
    from dvc_cml.publish import gitlab

    return gitlab.publish(settings, report, plots, files, report_path, out_dir)
