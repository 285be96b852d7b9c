"""A tiny OpenAI-compatible chat-completions server on loopback, for tests and offline demos of
lm-eval's API backends (``local-chat-completions``). It answers with ``answer_fn(messages)``.

    with FakeOpenAI(lambda messages: "exact") as url:
        evaluate(model="local-chat-completions",
                 model_args=f"model=fake,base_url={url},num_concurrent=1,max_retries=1",
                 tasks=["ecom_esci_gen"], apply_chat_template=True)
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class FakeOpenAI:
    def __init__(self, answer_fn: Callable[[list[dict]], str], host: str = "127.0.0.1"):
        self.answer_fn = answer_fn
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                if not self.path.rstrip("/").endswith("chat/completions"):
                    self.send_response(404); self.end_headers(); return
                text = outer.answer_fn(body.get("messages", []))
                payload = {"id": "fake", "object": "chat.completion", "model": body.get("model", "fake"),
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1/chat/completions"

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
