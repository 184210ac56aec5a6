"""dvc-cml: review how a DVC model changed, right in the merge request."""

__version__ = "0.1.0"
