"""Fakes of the services Acme calls that dq-harness does not ship, for the scenarios.

FakeMailer is the part of the mail provider's API (Mailgun's v3) that Acme uses: send a message
on one of our sending domains, HTTP Basic auth with user ``api`` and the API key. Like the real
one it has no idempotency key: a message sent twice is delivered twice.
"""

from harness.fakes import FakeService, Reply, route


class FakeMailer(FakeService):
    credentials = ("api_key",)  # recorded texts show a marker instead of the key

    def __init__(self, *args, api_key="key-dqharness", domains=("mg.acme.example",), **kwargs):
        super().__init__(*args, **kwargs)
        self.api_key = api_key
        self.domains = set(domains)
        self.messages = []  # what the provider accepted, in order

    def authorize(self, request):
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != ("api", self.api_key):
            return "Forbidden"
        return None

    def error_reply(self, status, message, call):
        return Reply(status, {"message": message})  # the provider's error shape

    @route(
        "POST",
        "/v3/{domain}/messages",
        operation="message.send",
        effect="message.sent",
        key="form:v:charge",  # one receipt per charge
        once=True,
    )
    def send(self, request, domain):
        if domain not in self.domains:
            return self.error(404, f"Domain not found: {domain}")
        form = request.form
        for field in ("from", "to", "subject"):
            if not form.get(field):
                return self.error(400, f"'{field}' parameter is missing")
        if not (form.get("text") or form.get("html")):
            return self.error(400, "Need at least one of 'text' or 'html' parameters specified")
        message_id = f"<{self.new_id('msg')}@{domain}>"
        variables = {k[2:]: v for k, v in form.items() if k.startswith("v:")}
        self.messages.append(
            {"id": message_id, "to": form.getlist("to"), "subject": form["subject"], **variables}
        )
        return {"id": message_id, "message": "Queued. Thank you."}
