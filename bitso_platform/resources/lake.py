"""The data lake: a folder or an S3 prefix (BITSO_LAKE_URL) holding partitioned files."""

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from bitso_platform.resources.storage import Location
from bitso_platform.settings import parse_setting, state_dir


class Lake(dg.ConfigurableResource):
    """Lake storage. An empty `url` means the `lake` folder under the state folder."""

    url: str = Field(default="", description="s3://bucket/prefix or a folder (BITSO_LAKE_URL)")
    s3: S3Resource | None = Field(default=None, description="S3 client settings")

    def location(self) -> Location:
        url = parse_setting("lake_url", self.url) if self.url else str(state_dir() / "lake")
        return Location.at(url, self.s3)
