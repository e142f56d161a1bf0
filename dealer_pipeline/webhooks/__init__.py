"""The webhook receiver: verifies vendor notifications on their raw bytes and stores them
durably before answering, so nothing acknowledged is lost and nothing forged is applied.

Applying stored events to the canonical store is `dealer_pipeline.events`' job; the
receiver does no vendor call and no heavy work inside a request.
"""
