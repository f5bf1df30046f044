from dam.models.assets import Asset, AssetVersion, Tag
from dam.models.collections import Collection, CollectionPermission
from dam.models.deletions import AssetDeletion
from dam.models.idempotency import IdempotencyKey
from dam.models.renditions import Rendition
from dam.models.staging import PendingFile
from dam.models.tokens import ApiToken, TokenScope
from dam.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSubscription
from dam.models.workflow import (
    ReviewState,
    ReviewTransition,
    StepApproval,
    VersionReview,
    Workflow,
    WorkflowStep,
)

__all__ = [
    "ApiToken",
    "IdempotencyKey",
    "TokenScope",
    "Asset",
    "AssetDeletion",
    "AssetVersion",
    "Collection",
    "CollectionPermission",
    "PendingFile",
    "Rendition",
    "ReviewState",
    "ReviewTransition",
    "StepApproval",
    "Tag",
    "VersionReview",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "Workflow",
    "WorkflowStep",
]
