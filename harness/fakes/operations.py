"""The operation names each fake understands.

Fault plans name operations; keeping the list here (data, not routes) lets a plan be validated
up front without importing the fakes themselves.
"""

from __future__ import annotations

VIRTUALMIN = "virtualmin"
PAYMENTS = "payments"
REGISTRAR = "registrar"

#: Virtualmin operations are the ``program=`` names of ``remote.cgi``.
VIRTUALMIN_OPERATIONS: frozenset[str] = frozenset(
    {
        "info",
        "list-domains",
        "list-templates",
        "list-bandwidth",
        "create-domain",
        "delete-domain",
        "disable-domain",
        "enable-domain",
    }
)

#: Stripe-subset operations, named ``<object>.<verb>``.
PAYMENTS_OPERATIONS: frozenset[str] = frozenset(
    {
        "customer.create",
        "customer.retrieve",
        "payment_method.attach",
        "payment_method.retrieve",
        "payment_intent.create",
        "payment_intent.retrieve",
        "refund.create",
        "refund.retrieve",
        "refund.list",
        "account.retrieve",
        "webhook.send",
    }
)

#: Gandi-v5-style registrar operations.
REGISTRAR_OPERATIONS: frozenset[str] = frozenset(
    {"domain.check", "domain.register", "domain.renew", "domain.info"}
)

OPERATIONS: dict[str, frozenset[str]] = {
    VIRTUALMIN: VIRTUALMIN_OPERATIONS,
    PAYMENTS: PAYMENTS_OPERATIONS,
    REGISTRAR: REGISTRAR_OPERATIONS,
}

FAKE_NAMES: tuple[str, ...] = tuple(OPERATIONS)
