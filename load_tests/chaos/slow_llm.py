#!/usr/bin/env python3
"""A slow OpenAI-compatible chat-completions stand-in for the chaos suite: each request takes
SLOW_SECS seconds. Streaming requests get an SSE chunk every SLOW_SECS/8 s; plain requests get
one JSON answer after SLOW_SECS. Counts requests (GET /count).

    slow_llm.py PORT [SLOW_SECS]        (127.0.0.1 only)
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
SLOW = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
count = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = str(count).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global count
        with lock:
            count += 1
        request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        model = request.get("model", "slow")
        usage = {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
        try:
            if not request.get("stream"):
                time.sleep(SLOW)
                body = json.dumps({"id": "c1", "object": "chat.completion", "model": model,
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "slow answer"}}],
                                   "usage": usage}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()

            def send(data):
                raw = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()

            for i in range(8):
                time.sleep(SLOW / 8)
                send(json.dumps({"id": "c1", "object": "chat.completion.chunk", "model": model,
                                 "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}))
            send(json.dumps({"id": "c1", "object": "chat.completion.chunk", "model": model,
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
            send(json.dumps({"id": "c1", "choices": [], "usage": usage}))
            send("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller died (the chaos) or gave up


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
