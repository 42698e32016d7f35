"""The review page's only writes, each re-checking the caller's role on the server: drawing a
sample and labelling (``reviews:label``: reviewers, change managers, admins), and exporting a
dataset version (``datasets:export``). They never commit; the callback does, after success."""

from __future__ import annotations

from app.models import ReviewLabel, ReviewSample
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.review import datasets, labels, sampling

__all__ = ["NotAllowed", "draw_sample", "export_dataset", "label_item", "may_export", "may_review"]


def may_review(identity: Identity | None) -> bool:
    return user_may(identity, "reviews:label")


def may_export(identity: Identity | None) -> bool:
    return user_may(identity, "datasets:export")


@dashboard_action("reviews:label", "draw review samples (reviewers, change managers or admins)")
def draw_sample(feature: str, size: int | None, identity: Identity) -> ReviewSample:
    return sampling.draw_sample(feature, identity.name, size=size)


@dashboard_action("reviews:label", "label review items (reviewers, change managers or admins)")
def label_item(item_id: int, label: str | None, category: str | None, fix: str | None,
               identity: Identity) -> ReviewLabel:
    return labels.label_item(item_id, identity.name, label, category or None, fix or None)


@dashboard_action("datasets:export", "export datasets (reviewers, change managers, product or admins)")
def export_dataset(dataset: str | None, feature: str, category: str | None, fmt: str,
                   identity: Identity) -> tuple[str, str, int]:
    """A new version of the dataset from the feature's items: (file name, its text, item count)."""
    version = datasets.export_version(dataset or "", identity.name, feature, category=category or None)
    return f"{dataset}-v{version.version}.{fmt}", datasets.render(version, fmt), version.item_count
