from django.contrib import admin

from dam.models import Collection, CollectionPermission, Tag, Workflow, WorkflowStep


class CollectionPermissionInline(admin.TabularInline):
    model = CollectionPermission
    extra = 1


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["indented_name", "asset_count", "created_at"]
    search_fields = ["name"]
    inlines = [CollectionPermissionInline]

    @admin.display(description="Collection", ordering="path")
    def indented_name(self, obj: Collection) -> str:
        return ("— " * obj.depth) + obj.name

    @admin.display(description="Assets")
    def asset_count(self, obj: Collection) -> int:
        return obj.assets.count()


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    extra = 1
    ordering = ["order"]


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "collection", "allow_self_approval"]
    inlines = [WorkflowStepInline]
