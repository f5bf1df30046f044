"""Jobs: long work started with ``202 Accepted`` + ``Location``, then polled, and cancellable.

The endpoints know no kind of job: each comes from the registry in :mod:`dam.api.jobs`
(``training`` from ``generative``), so a new kind adds no route and no branch here.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from dam.api.base import IDEMPOTENCY_PARAMETER, IF_NONE_MATCH_PARAMETER, BrandForgeViewSet
from dam.api.jobs import JOB_ID_PATTERN, JobKind, JobSerializer, job_kinds, parse_job_id
from dam.api.pagination import MergedStreamPagination
from dam.api.views.renditions import FirstRendererNegotiation
from dam.models import TokenScope


def _by_kind(attribute: str):
    # Evaluated when the schema is built, after every app has registered its kinds.
    return lambda: {name: getattr(kind, attribute) for name, kind in job_kinds().items()}


JOB = PolymorphicProxySerializer(component_name="Job", serializers=_by_kind("serializer_class"),
                                 resource_type_field_name="kind")
JOB_START = PolymorphicProxySerializer(component_name="JobStart", serializers=_by_kind("start_serializer_class"),
                                       resource_type_field_name="kind")
JOB_ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=f"^{JOB_ID_PATTERN}$",
                                    description="<kind>-<number>, e.g. training-12")
KIND_PARAMETER = OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.QUERY,
                                  description="Only jobs of this kind (e.g. training).")
ACCEPTED = OpenApiResponse(JOB, description="Accepted; Location names the job to poll.")


@extend_schema_view(
    list=extend_schema(parameters=[KIND_PARAMETER], responses=JOB, summary="Jobs you can reach, newest first"),
    retrieve=extend_schema(parameters=[JOB_ID_PARAMETER, IF_NONE_MATCH_PARAMETER], responses=JOB,
                           summary="One job: status, progress, and its result or error"),
    create=extend_schema(request=JOB_START, responses={202: ACCEPTED}, parameters=[IDEMPOTENCY_PARAMETER],
                         summary="Start a job (202 + Location); kind chooses the body"),
)
class JobViewSet(BrandForgeViewSet):
    required_scope = TokenScope.GENERATE
    pagination_class = MergedStreamPagination
    filter_backends: list = []  # ?kind= is read by list(); there is no one queryset to filter
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "head", "options"]
    lookup_url_kwarg = "id"
    lookup_value_regex = JOB_ID_PATTERN
    job_kind: JobKind | None = None

    def get_serializer_class(self) -> type[JobSerializer]:
        return self.job_kind.serializer_class if self.job_kind is not None else JobSerializer

    def get_object(self):
        parsed = parse_job_id(self.kwargs.get("id", ""))
        job = parsed[0].jobs(self.caller).filter(pk=parsed[1]).first() if parsed is not None else None
        if job is None:
            raise NotFound(f"No job {self.kwargs.get('id')!r} that you can reach.")
        self.job_kind = parsed[0]
        return job

    def list(self, request) -> Response:
        kinds = job_kinds()
        wanted = request.query_params.get("kind")
        if wanted is not None:
            if wanted not in kinds:
                raise ValidationError({"kind": [f"{wanted!r} is not a job kind; choose from {', '.join(kinds)}"]})
            kinds = {wanted: kinds[wanted]}
        streams = [(kind.jobs(self.caller), "created_at", "pk") for kind in kinds.values()]
        page = self.paginator.paginate_streams(streams, request, descending=True)
        by_model = {kind.model: kind for kind in kinds.values()}
        context = self.get_serializer_context()
        rows = [by_model[job._meta.concrete_model].serializer_class(job, context=context).data for job in page]
        return self.get_paginated_response(rows)

    def create(self, request) -> Response:
        body = request.data
        name = body.get("kind") if isinstance(body, dict) else None
        kind = job_kinds().get(name) if isinstance(name, str) else None
        if kind is None:
            raise ValidationError({"kind": [f"{name!r} is not a job kind; choose from {', '.join(job_kinds())}"]})
        form = kind.start_serializer_class(data=body, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        self.job_kind = kind
        return self._accepted(kind.start(form.validated_data, caller=self.caller))

    @extend_schema(parameters=[JOB_ID_PARAMETER, IDEMPOTENCY_PARAMETER], request=None, responses={202: ACCEPTED},
                   summary="Ask a job to stop (409 when it is no longer active)")
    @action(detail=True, methods=["post"])
    def cancel(self, request, id=None) -> Response:
        job = self.get_object()
        return self._accepted(self.job_kind.cancel(job, caller=self.caller))

    @extend_schema(
        parameters=[JOB_ID_PARAMETER, OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                       description="A file the job names, e.g. samples.png")],
        responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes.")},
        summary="A file a job made (training: samples.png, the latest sample grid)",
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<name>[A-Za-z0-9_.-]+)",
            content_negotiation_class=FirstRendererNegotiation)
    def files(self, request, id=None, name=None) -> FileResponse:
        job = self.get_object()
        found = self.job_kind.file(job, name)
        if found is None or not found[0].is_file():
            raise NotFound(f"Job {id} has no file {name!r} (yet).")
        path, mime = found
        response = FileResponse(path.open("rb"), content_type=mime)
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _accepted(self, job) -> Response:
        data = self.get_serializer(job).data
        response = Response(data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("dam-api:job-detail", kwargs={"id": data["id"]})
        return response
