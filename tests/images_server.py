"""A threaded HTTP server on 127.0.0.1 that serves given images after a fixed latency per request.

`max_in_flight` is the most requests it held at once, each counted from its arrival until its
answer starts: within the time its client is waiting for it, so never more than the client had.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LatencyServer:
    """Serve `images` ({path: (bytes, content type)}) on 127.0.0.1, each answer `latency` seconds late."""

    def __init__(self, images: dict[str, tuple[bytes, str]], *, latency: float):
        self.images = images
        self.latency = latency
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with server._lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.latency)
                    found = server.images.get(self.path)
                finally:
                    # Counted out before the answer is sent: once the client has it, it may send its
                    # next request at once, and under load that one could arrive before this thread
                    # ran again, counting one request too many. A request is thus counted only while
                    # its client is surely waiting for it.
                    with server._lock:
                        server.in_flight -= 1
                if found is None:
                    self.send_error(404)
                    return
                content, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def urls(self) -> list[str]:
        host, port = self.httpd.server_address[:2]
        return [f"http://{host}:{port}{path}" for path in self.images]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
