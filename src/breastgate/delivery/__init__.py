"""Delivery: the outbox worker and its senders (C-STORE SCU, MLLP, webhooks; STOW-RS later).

Senders share one small protocol (:class:`~breastgate.delivery.service.Sender`) so a test can swap
the real transport for a fake, as httpx swaps transports; failures are split into retryable and
permanent ones in :mod:`breastgate.domain.errors`.
"""
