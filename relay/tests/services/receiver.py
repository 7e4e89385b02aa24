"""A service behind the relay, as a Python team would write one: it verifies each delivery with
`standardwebhooks` from PyPI and prints one JSON line per request it got:
{"id": webhook-id, "valid": signature verified, "status": what it answered, "dedup_key": the
envelope's}. `POST /control?status=503` makes it answer 503 (with `Retry-After: 1`) until
`/control?status=200`.

    python3 receiver.py PORT SECRET
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT, SECRET = int(sys.argv[1]), sys.argv[2]
WEBHOOK = Webhook(SECRET)
STATE = {"status": 200}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, extra=()):
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urlparse(self.path)
        if url.path == "/control":
            STATE["status"] = int(parse_qs(url.query)["status"][0])
            return self.answer(200)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            envelope = WEBHOOK.verify(body, headers)
            valid = True
        except WebhookVerificationError:
            envelope, valid = {}, False
        status = STATE["status"] if valid else 401
        line = {"id": headers.get("webhook-id"), "valid": valid, "status": status,
                "dedup_key": envelope.get("dedup_key")}
        with LOCK:
            print(json.dumps(line), flush=True)
        self.answer(status, [("Retry-After", "1")] if status == 503 else [])


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(json.dumps({"listening": PORT}), flush=True)
server.serve_forever()
