from dam.models.assets import Asset, AssetVersion, Tag
from dam.models.collections import Collection, CollectionPermission
from dam.models.renditions import Rendition
from dam.models.staging import PendingFile

__all__ = ["Asset", "AssetVersion", "Collection", "CollectionPermission", "PendingFile", "Rendition", "Tag"]
