"""``SiteFile``: the former name of the site model, kept while the Runtime still uses it.

A site file's control sections are part of :class:`~openbms.model.site.SiteConfig`
itself now; ``SiteFile`` is that very class. Import ``SiteConfig`` instead.
"""

from openbms.model.site import SiteConfig

__all__ = ["SiteFile"]

SiteFile = SiteConfig
