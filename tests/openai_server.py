"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol, for tests.

It answers with whatever `reply(messages) -> str` returns, as one JSON body or as a stream of
server-sent events cut into small pieces, the way real servers (OpenAI, vLLM, llama.cpp) do.
`fault` makes it misbehave the ways real servers and proxies do:

    "garbled"   one server-sent event of the stream is not JSON
    "empty"     200 with an empty body
    "html"      200 with an HTML page (a captive portal, a proxy's login page)
    "cut"       the stream stops half-way: the connection closes with no end of stream
    "echo_key"  401 whose message repeats the key it was sent, as OpenAI's does
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(
        self,
        reply: Callable[[list[dict]], str],
        delay_s: float = 0.0,
        piece_chars: int = 3,
        status: int = 200,
        fault: str | None = None,
        piece_delay_s: float = 0.0,
    ):
        self.reply = reply
        self.status = status
        self.fault = fault
        self.piece_delay_s = piece_delay_s  # between the pieces of a stream: a slow drip
        self.delay_s = delay_s
        self.piece_chars = piece_chars
        self.requests: list[dict] = []
        self.first_request_at: float | None = None  # time.monotonic() when the first one came
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.first_request_at = server.first_request_at or time.monotonic()
                server.requests.append(body)
                if server.delay_s:
                    time.sleep(server.delay_s)
                if server.fault == "echo_key":
                    key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self._send_error_json(401, f"Incorrect API key provided: {key}.")
                    return
                if server.status != 200:
                    self._send_error_json(server.status)
                    return
                text = server.reply(body["messages"])
                try:
                    if server.fault in ("empty", "html"):
                        self._send_page(server.fault)
                    elif body.get("stream"):
                        self._stream(body["model"], text)
                    else:
                        self._send_json(body["model"], text)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: what a timeout test wants

            def _send_page(self, fault):
                payload = b"" if fault == "empty" else b"<html><body>Sign in</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if payload else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_error_json(self, status, message="model overloaded"):
                payload = json.dumps(
                    {"error": {"message": message, "type": "server_error"}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_json(self, model, text):
                payload = json.dumps(
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, model, text):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                size = server.piece_chars
                pieces = [text[i : i + size] for i in range(0, len(text), size)]
                for i, piece in enumerate([None, *pieces, ""]):
                    if server.fault == "cut" and i > len(pieces) // 2:
                        self.close_connection = True
                        return
                    if server.fault == "garbled" and i == 2:
                        self.wfile.write(b'data: {"id": "chatcmpl-test", "choi\n\n')
                        self.wfile.flush()
                        continue
                    if server.piece_delay_s and i:
                        time.sleep(server.piece_delay_s)
                    delta = {"role": "assistant"} if piece is None else {"content": piece}
                    finish = "stop" if i == len(pieces) + 1 else None
                    event = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
