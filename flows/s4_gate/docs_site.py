"""GX Data Docs that open offline and show toll's severity.

GX's pages load jQuery, Bootstrap, bootstrap-table and Font Awesome from CDNs: offline the
index (a bootstrap-table built by script) shows only headings and the status icons are empty.
The exact versions GX names are vendored in `static/vendor/` (see its README) and every page
points at a copy inside the Data Docs folder. GX's renderers only know passed/failed; the
classes below add toll's severity: a Severity column beside each result, a warning icon for
a failed `warning`, and "Passed with warnings" (not "Failed") for a suite whose failures are
all warnings, on its page and in the index.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from great_expectations.render.components import (
    RenderedStringTemplateContent,
)
from great_expectations.render.renderer import SiteIndexPageRenderer
from great_expectations.render.renderer.content_block import (
    ValidationResultsTableContentBlockRenderer,
)
from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer
from great_expectations.render.renderer.site_builder import DefaultSiteIndexBuilder

VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
VENDOR_IN_SITE = Path("static") / "vendor"
WARNING = "warning"
ERROR = "error"

# CDN file name -> vendored files it becomes (Font Awesome's all.min.css: only what pages use)
_LOCAL = {
    "jquery-3.7.1.min.js": ["jquery.min.js"],
    "popper.min.js": ["popper.min.js"],
    "bootstrap.min.js": ["bootstrap.min.js"],
    "bootstrap.min.css": ["bootstrap.min.css"],
    "bootstrap-table.min.js": ["bootstrap-table.min.js"],
    "bootstrap-table.min.css": ["bootstrap-table.min.css"],
    "bootstrap-table-filter-control.min.js": ["bootstrap-table-filter-control.min.js"],
    "bootstrap-table-filter-control.min.css": ["bootstrap-table-filter-control.min.css"],
    "bootstrap-table-filter-control.css": ["bootstrap-table-filter-control.min.css"],
    "bootstrap-datepicker.min.js": ["bootstrap-datepicker.min.js"],
    "bootstrap-datepicker.min.css": ["bootstrap-datepicker.min.css"],
    "all.min.css": [
        "fontawesome/css/fontawesome.min.css",
        "fontawesome/css/solid.min.css",
        "fontawesome/css/regular.min.css",
    ],
}
_EXTERNAL_TAG = re.compile(
    r"<(script|link)\b[^>]*?(?:src|href)=\"(https?://[^\"]*)\"[^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_SITE_IMAGES = re.compile(r"\b(href|src)=\"(?:\.\.?/)*static/images/")
# GX's logo in the top bar comes from its S3 bucket; the same images ship in static/images
_GX_IMAGES = re.compile(
    r"https://great-expectations-web-assets\.s3[^\"'\s?)]*/([\w.-]+)(?:\?[^\"'\s)]*)?"
)


def severity(result) -> str:
    return ((result.expectation_config.meta or {}).get("severity") or ERROR).lower()


def outcome(validation) -> str:
    """passed, warning (every failure a warning) or failed, for one suite's validation."""
    if validation.success:
        return "passed"
    failed = [r for r in validation.results if not r.success]
    return WARNING if failed and all(severity(r) == WARNING for r in failed) else "failed"


def _icon(classes: list[str], text: str = "") -> RenderedStringTemplateContent:
    return RenderedStringTemplateContent(
        content_block_type="string_template",
        string_template={
            "template": "$icon" + (f" {text}" if text else ""),
            "params": {"icon": ""},
            "styling": {"params": {"icon": {"tag": "i", "classes": classes}}},
        },
    )


WARNING_ICON = ["fas", "fa-exclamation-triangle", "text-warning"]


class SeverityTableRenderer(ValidationResultsTableContentBlockRenderer):
    """GX's result table with a Severity column; a failed warning gets a warning icon."""

    @classmethod
    def _process_content_block(cls, content_block, has_failed_evr, render_object=None) -> None:
        super()._process_content_block(content_block, has_failed_evr, render_object)
        content_block.header_row = [*content_block.header_row, "Severity"]
        content_block.header_row_options["Severity"] = {"sortable": True}

    @classmethod
    def _get_content_block_fn(cls, expectation_type, expectation_config=None):
        row_fn = super()._get_content_block_fn(expectation_type, expectation_config)

        def with_severity(configuration=None, result=None, runtime_configuration=None, **kwargs):
            rows = row_fn(
                configuration=configuration,
                result=result,
                runtime_configuration=runtime_configuration,
                **kwargs,
            )
            if result is None or not rows:
                return rows
            level = severity(result)
            if not result.success and level == WARNING:
                rows[0][0] = _icon(WARNING_ICON)
            rows[0].append(level)
            return rows

        return with_severity


class SeverityPageRenderer(ValidationResultsPageRenderer):
    """A suite whose failures are all warnings reads "Passed with warnings", not "Failed"."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "column_section_renderer",
            {
                "class_name": "ValidationResultsColumnSectionRenderer",
                "table_renderer": {
                    "module_name": __name__,
                    "class_name": SeverityTableRenderer.__name__,
                },
            },
        )
        super().__init__(*args, **kwargs)

    @classmethod
    def _render_validation_header(cls, validation_results):
        header = super()._render_validation_header(validation_results)
        if outcome(validation_results) == WARNING:
            params = header.subheader.string_template["params"]
            params["success"] = "Passed with warnings"
            params["html_success_icon"] = (
                '<i class="fas fa-exclamation-triangle text-warning" aria-hidden="true"></i>'
            )
        return header


class SeverityIndexBuilder(DefaultSiteIndexBuilder):
    """Index rows carry passed / warning / failed instead of GX's success flag."""

    def add_resource_info_to_index_links_dict(self, *args, **kwargs):
        if (
            kwargs.get("section_name") == "validations"
            and kwargs.get("validation_success") is False
        ):
            validation = self.data_context.get_validation_result(
                batch_identifier=kwargs.get("batch_identifier"),
                expectation_suite_name=kwargs["expectation_suite_name"],
                run_id=kwargs.get("run_id"),
            )
            if outcome(validation) == WARNING:
                kwargs["validation_success"] = WARNING
        return super().add_resource_info_to_index_links_dict(*args, **kwargs)


class SeverityIndexRenderer(SiteIndexPageRenderer):
    @classmethod
    def _render_validation_success_cell(cls, validation_success):
        if validation_success == WARNING:
            return _icon([*WARNING_ICON, "toll-warning-icon"])
        return super()._render_validation_success_cell(validation_success)

    @classmethod
    def _generate_validation_results_link_table(cls, index_links_dict):
        table = super()._generate_validation_results_link_table(index_links_dict)
        links = index_links_dict.get("validations_links", [])
        for link, row in zip(links, table.table_data, strict=True):
            if link.get("validation_success") == WARNING:
                row["_validation_success_text"] = "Warning"
        return table


def site_config(folder: Path) -> dict:
    """A GX site writing to `folder`, rendered by the classes above."""
    return {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(folder),
        },
        "site_index_builder": {
            "module_name": __name__,
            "class_name": SeverityIndexBuilder.__name__,
            "renderer": {"module_name": __name__, "class_name": SeverityIndexRenderer.__name__},
        },
        "site_section_builders": {
            "validations": {
                "renderer": {"module_name": __name__, "class_name": SeverityPageRenderer.__name__}
            }
        },
    }


def _local_tags(url: str, to_site: str) -> str:
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    tags = []
    for file in _LOCAL.get(name, []):
        href = f"{to_site}/{VENDOR_IN_SITE.as_posix()}/{file}"
        if file.endswith(".js"):
            tags.append(f'<script src="{href}"></script>')
        else:
            tags.append(f'<link rel="stylesheet" href="{href}">')
    # anything else GX links (vega for profiling charts, a dark-mode theme) is left out
    return "\n".join(tags)


def offline_page(html: str, to_site: str) -> str:
    """One page with every CDN tag pointing at the copy `to_site` (a relative path) holds."""
    html = _EXTERNAL_TAG.sub(lambda m: _local_tags(m.group(2), to_site), html)
    html = _GX_IMAGES.sub(lambda m: f"{to_site}/static/images/{m.group(1)}", html)
    # GX counts one folder too many on suite pages (favicon 404s): every page, one rule
    return _SITE_IMAGES.sub(f'\\1="{to_site}/static/images/', html)


def make_offline(site: Path) -> None:
    """Copy the vendored assets into `site` and point every page at them; nothing is fetched."""
    shutil.copytree(VENDOR, site / VENDOR_IN_SITE, dirs_exist_ok=True)
    for page in sorted(site.rglob("*.html")):
        to_site = Path(os.path.relpath(site, page.parent)).as_posix()
        page.write_text(offline_page(page.read_text(encoding="utf-8"), to_site), encoding="utf-8")
