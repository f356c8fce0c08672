"""Site configuration files: loading and validation with file:line:column errors."""

from openbms.config.loader import check_path, load_site, load_sites, site_files

__all__ = ["check_path", "load_site", "load_sites", "site_files"]
