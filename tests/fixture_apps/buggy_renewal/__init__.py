"""A deliberately buggy domain-renewal task and its fixed twin (``harness explore``'s demo).

Both talk to a Gandi-v5-style registrar at :data:`common.REGISTRAR_URL` (the fake is mounted
there by the scenario) and raise on any failure so that Django-Q2 redelivers the message:

* :func:`buggy.renew_domain` resends ``POST …/renew`` blindly. When the registrar applied the
  renewal but the answer was lost (``lost_response``), the redelivery renews — and charges —
  a second time. The registrar has no idempotency, so the ledger shows two ``domain.renewed``.
* :func:`fixed.renew_domain` reconciles first: it reads the domain and skips the renewal when the
  expiry already moved past the one it was asked to extend.
"""
