"""What a running gateway holds besides the platform's common runtime."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.mail import MailSender
from services.gateway.openapi import OpenApiCache
from services.gateway.people import Links
from services.gateway.proxy import ProxyState
from services.gateway.sessions import SessionPolicy
from services.gateway.webhook_dispatch import WebhookDispatcher
from shared.messaging.consumer import DurableConsumer


@dataclass
class GatewayState:
    proxy: ProxyState
    openapi: OpenApiCache
    mail: MailSender
    links: Links
    policy: SessionPolicy
    webhooks: WebhookDispatcher
    people_mail: DurableConsumer
    partnership_mail: DurableConsumer
