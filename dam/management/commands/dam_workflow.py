"""``manage.py dam_workflow FILE``: create or replace a collection's workflow from YAML or JSON.

    collection: Brand/Logos
    name: Logo sign-off
    allow_self_approval: false
    steps:
      - {name: Brand review, group: Brand, mode: any}
      - {name: Legal review, group: Legal, mode: all}
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management import BaseCommand, CommandError

from dam.models import Collection
from dam.selectors import CollectionPathError, collection_at_path
from dam.services.workflow import WorkflowError, define_workflow


def _collection(path: str) -> Collection:
    try:
        return collection_at_path(path)
    except CollectionPathError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = "Create or replace a collection's review workflow from a YAML/JSON file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options) -> None:
        try:
            definition = yaml.safe_load(file.read_text())
        except OSError as exc:
            raise CommandError(f"{file}: cannot be read ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise CommandError(f"{file}: not valid YAML/JSON ({exc})") from exc
        if not isinstance(definition, dict):
            raise CommandError(f"{file}: expected a mapping with collection, name and steps")
        steps = definition.get("steps") or []
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise CommandError(f"{file}: steps must be a list of mappings with name, group and mode")
        collection = _collection(str(definition.get("collection", "")))
        try:
            workflow = define_workflow(
                collection=collection,
                name=str(definition.get("name") or f"{collection.name} review"),
                steps=steps,
                allow_self_approval=bool(definition.get("allow_self_approval", False)),
            )
        except WorkflowError as exc:
            raise CommandError(f"{file}: {exc}") from exc
        lines = [f"  {step}" for step in workflow.steps.all()]
        self.stdout.write(f"Workflow “{workflow.name}” for {collection}:\n" + "\n".join(lines))
