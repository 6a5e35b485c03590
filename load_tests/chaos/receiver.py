#!/usr/bin/env python3
"""A webhook receiver for the chaos suite: answers 200 to every POST after DELAY_MS (so
deliveries are in flight when the server is killed) and records `webhook-id` and the receive
time (unix ns, taken when the request head arrived).

    receiver.py PORT [DELAY_MS]         (127.0.0.1 only)
    GET /count   requests received      GET /dump   CSV `webhook_id,received_unix_ns`
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
DELAY = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.1
rows = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body=b""):
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path.startswith("/dump"):
                body = "".join(f"{i},{t}\n" for i, t in rows).encode()
            else:
                body = str(len(rows)).encode()
        self.reply(body)

    def do_POST(self):
        now = time.time_ns()
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            rows.append((self.headers.get("webhook-id", ""), now))
        time.sleep(DELAY)
        try:
            self.reply()
        except (BrokenPipeError, ConnectionResetError):
            pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
