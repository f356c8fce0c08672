"""Site configuration files: loading and validation with ``file:line:column`` errors.

``check_control`` runs the checks of a site's control sections (schedules,
calendars, alarms and program files against its points) on a site that is
already in memory, as loading does for every file.
"""

from openbms.config.checks import check_control
from openbms.config.loader import (
    FALLBACK_DRIVERS,
    check_path,
    default_drivers,
    load_site,
    load_sites,
    site_files,
)

__all__ = [
    "FALLBACK_DRIVERS",
    "check_control",
    "check_path",
    "default_drivers",
    "load_site",
    "load_sites",
    "site_files",
]
