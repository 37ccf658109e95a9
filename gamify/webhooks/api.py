"""Webhooks over HTTP (API.md: Webhooks), scope `manage` for reading and writing alike:
an endpoint's URL and its deliveries' payloads are configuration, not game state."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import TenantAPIView as BaseView
from core.api.base import (
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
    page_of,
    problems,
    request_data,
)
from core.api.pagination import PAGE_PARAMETERS
from core.errors import InvalidInputError, NotFoundError
from gamify.webhooks import selectors, services
from gamify.webhooks.models import Attempt, Delivery, Endpoint

MANAGE = dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"), "manage")


class EventsField(serializers.ListField):
    """Activity types (API.md, Game state) or "*": an unknown one is a 400 naming `events`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.ChoiceField(choices=services.EVENT_CHOICES),
            min_length=1,
            max_length=services.MAX_EVENTS,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return services.clean_events(data)
        except InvalidInputError as exc:
            raise serializers.ValidationError(exc.errors["events"]) from exc


class EndpointInput(StrictSerializer):
    url = StrictCharField(max_length=2000, help_text="https:// (http:// where allowed)")
    events = EventsField(help_text='Activity types to receive, or ["*"] for all')
    active = StrictBooleanField(required=False, default=True)
    description = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class EndpointOutput(serializers.Serializer[Endpoint]):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    description = serializers.CharField()
    secret_prefix = serializers.CharField(help_text="The secret's first characters, to tell it")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Until then deliveries are signed with the rotated-out secret too",
    )
    failing_since = serializers.DateTimeField(allow_null=True)
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class EndpointCreatedOutput(EndpointOutput):
    secret = serializers.CharField(help_text="Shown this once: store it to verify signatures")


class AttemptOutput(serializers.Serializer[Attempt]):
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True, help_text="null: no answer (error)")
    response_excerpt = serializers.CharField(help_text="The answer's first 1000 characters")
    error = serializers.CharField(help_text="Why no answer came (time-out, refused …)")


class DeliveryOutput(serializers.Serializer[Delivery]):
    id = serializers.IntegerField()
    delivery = serializers.UUIDField(source="uuid", help_text="The X-Gamify-Delivery header")
    event = serializers.CharField(source="event_type")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    next_attempt_at = serializers.DateTimeField(help_text="When a pending delivery is tried")
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.JSONField(help_text="The body sent")
    attempts = AttemptOutput(many=True, source="attempt_set.all", help_text="Oldest first")


def _created(result: services.EndpointWithSecret) -> dict[str, Any]:
    return {**EndpointOutput(result.endpoint).data, "secret": result.secret}


class WebhookView(BaseView):
    scopes = MANAGE

    def endpoint(self, endpoint_id: int) -> Endpoint:
        endpoint = selectors.endpoint_get(tenant=self.tenant, endpoint_id=endpoint_id)
        if endpoint is None:
            raise NotFoundError(f"No webhook {endpoint_id}.")
        return endpoint

    def delivery(self, endpoint: Endpoint, delivery_id: int) -> Delivery:
        found = selectors.delivery_get(
            tenant=self.tenant, endpoint=endpoint, delivery_id=delivery_id
        )
        if found is None:
            raise NotFoundError(f"No delivery {delivery_id} of webhook {endpoint.pk}.")
        return found


class WebhookListApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(EndpointOutput), **problems(400)},
    )
    def get(self, request: Request) -> Response:
        return self.paginate(selectors.endpoint_list(tenant=self.tenant), EndpointOutput)

    @extend_schema(
        operation_id="webhooks_create",
        request=EndpointInput,
        responses={201: EndpointCreatedOutput, **problems(400)},
        description=(
            "Subscribe a receiver. The answer carries the signing `secret`, shown this once. "
            "Receivers on loopback, private or link-local networks are refused (400 naming "
            "`url`) unless the deployment allows them."
        ),
    )
    def post(self, request: Request) -> Response:
        data = EndpointInput(data=request_data(request))
        data.is_valid(raise_exception=True)
        result = services.endpoint_create(tenant=self.tenant, **data.validated_data)
        return Response(_created(result), status=status.HTTP_201_CREATED)


class WebhookDetailApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_retrieve", responses={200: EndpointOutput, **problems(404)}
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointOutput(self.endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        request=EndpointInput,
        responses={200: EndpointOutput, **problems(400, 404)},
        description="Change any field; `active: true` turns a disabled endpoint back on.",
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = self.endpoint(endpoint_id)
        data = EndpointInput(data=request_data(request), partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request_data(request)}
        endpoint = services.endpoint_update(endpoint=endpoint, changes=changes)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(operation_id="webhooks_delete", responses={204: None, **problems(404)})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.endpoint_delete(endpoint=self.endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=None,
        responses={200: EndpointCreatedOutput, **problems(404)},
        description=(
            "A new signing secret, shown this once. The previous one stays valid for 24 h: "
            "deliveries carry both signatures (`sha256=<new>,sha256=<old>`) meanwhile."
        ),
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        result = services.endpoint_rotate_secret(endpoint=self.endpoint(endpoint_id))
        return Response(_created(result))


class WebhookTestApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_test",
        request=None,
        responses={202: DeliveryOutput, **problems(404)},
        description="Send a `ping` delivery now; its outcome shows in the deliveries list.",
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        delivery = services.endpoint_ping(endpoint=self.endpoint(endpoint_id))
        found = self.delivery(delivery.endpoint, delivery.pk)
        return Response(DeliveryOutput(found).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(DeliveryOutput), **problems(400, 404)},
        description="Newest first, each with its attempts: status code, duration, excerpt.",
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = self.endpoint(endpoint_id)
        deliveries = selectors.delivery_list(tenant=self.tenant, endpoint=endpoint)
        return self.paginate(deliveries, DeliveryOutput)


class WebhookDeliveryDetailApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve",
        responses={200: DeliveryOutput, **problems(404)},
    )
    def get(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        return Response(DeliveryOutput(self.delivery(self.endpoint(endpoint_id), delivery_id)).data)


class WebhookRedeliverApi(WebhookView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        request=None,
        responses={202: DeliveryOutput, **problems(404)},
        description=(
            "Send a delivery again, with the same `X-Gamify-Delivery` id and a fresh 24 h of "
            "retries (a receiver that de-duplicates ignores one it already took)."
        ),
    )
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        endpoint = self.endpoint(endpoint_id)
        delivery = services.delivery_redeliver(delivery=self.delivery(endpoint, delivery_id))
        found = self.delivery(endpoint, delivery.pk)
        return Response(DeliveryOutput(found).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("webhooks", WebhookListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:endpoint_id>", WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret",
        WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<int:endpoint_id>/test", WebhookTestApi.as_view(), name="webhook-test"),
    path(
        "webhooks/<int:endpoint_id>/deliveries",
        WebhookDeliveryListApi.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>",
        WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver",
        WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
