#!/usr/bin/env python3
"""A chat webhook receiver for end-to-end tests: HTTPS on a loopback address, records every
POST (path, headers, JSON body, the status it answered) as a JSON line, and answers 500 to the
first --fail-first requests, 200 after.

usage: webhook_receiver.py --listen IP:PORT --cert CRT --key KEY --record FILE [--fail-first N]
"""
import argparse
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--listen", required=True)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--record", required=True)
parser.add_argument("--fail-first", type=int, default=0)
args = parser.parse_args()
lock = threading.Lock()
seen = 0


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        with lock:
            seen += 1
            status = 500 if seen <= args.fail_first else 200
            with open(args.record, "a") as f:
                f.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                    "status": status, "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def log_message(self, *_):
        pass


host, port = args.listen.rsplit(":", 1)
server = ThreadingHTTPServer((host, int(port)), Receiver)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(args.cert, args.key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
