"""Site configuration files: loading and validation with ``file:line:column`` errors."""

from openbms.config.loader import (
    FALLBACK_DRIVERS,
    check_path,
    default_drivers,
    load_site,
    load_sites,
    site_files,
)

__all__ = ["FALLBACK_DRIVERS", "check_path", "default_drivers", "load_site", "load_sites", "site_files"]
