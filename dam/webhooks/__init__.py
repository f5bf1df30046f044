"""Webhooks for CMS integration: subscriptions, Standard Webhooks signatures, deliveries."""
