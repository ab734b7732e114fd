"""An attacker's raw client for the bypass tests: what no SDK sends, sent on purpose.

  probe.py request METHOD TARGET [--host H] [--no-host] [--content-type T] [--encoding E]
           [--body JSON] [--sni NAME | --no-sni]
      One request over TLS to api.openai.com:443; prints "STATUS <code>" and the body, or
      "TLS <error>" when the handshake is refused.
  probe.py variants COUNT SEED BODY
      Sends COUNT generated spellings of "POST /v1/embeddings" (content types, encodings,
      target forms, Host values), each with BODY, one connection each; prints one JSON line per
      variant: {"variant": ..., "status": code or null}.
  probe.py ech
      A raw ClientHello naming api.openai.com that carries Encrypted Client Hello; prints the
      bytes that came back in hex.
  probe.py stalled-hellos COUNT HOLD_S
      Opens COUNT connections that each send 10 bytes of a TLS record and stall; after HOLD_S
      seconds prints how many the server has closed.
Trust comes from SSL_CERT_FILE, as for any client.
"""
import gzip
import json
import random
import resource
import socket
import ssl
import sys
import time


def tls_connect(sni="api.openai.com"):
    context = ssl.create_default_context()
    if sni is None:
        context.check_hostname = False  # no SNI sent: nothing to check the name against
    raw = socket.create_connection(("api.openai.com", 443), timeout=10)
    return context.wrap_socket(raw, server_hostname=sni)


def read_response(sock):
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
    except (ConnectionResetError, socket.timeout, ssl.SSLError):
        pass
    status = None
    if data.startswith(b"HTTP/1.1 "):
        status = int(data[9:12])
    return status, data.partition(b"\r\n\r\n")[2].decode("latin-1")


def send_request(method, target, headers, body, sni="api.openai.com"):
    try:
        sock = tls_connect(sni)
    except (ssl.SSLError, ConnectionResetError, OSError) as error:
        return None, f"TLS {type(error).__name__}: {error}"
    head = f"{method} {target} HTTP/1.1\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    head += f"Content-Length: {len(body)}\r\nAuthorization: Bearer sk-dummy-client-key\r\nConnection: close\r\n\r\n"
    try:
        sock.sendall(head.encode("latin-1") + body)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    return read_response(sock)


def option(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def cmd_request():
    method, target = sys.argv[2], sys.argv[3]
    headers = []
    if "--no-host" not in sys.argv:
        headers.append(("Host", option("--host", "api.openai.com")))
    if option("--content-type") is not None:
        headers.append(("Content-Type", option("--content-type")))
    body = option("--body", "").encode()
    if option("--encoding"):
        headers.append(("Content-Encoding", option("--encoding")))
        if option("--encoding") == "gzip":
            body = gzip.compress(body)
    sni = None if "--no-sni" in sys.argv else option("--sni", "api.openai.com")
    status, text = send_request(method, target, headers, body, sni)
    print(f"STATUS {status}\n{text}" if status is not None else text)


def generated_variants(count, seed):
    rng = random.Random(seed)
    content_types = [None, "application/json", "Application/JSON", "APPLICATION/JSON; charset=utf-8", "text/plain",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx",
                     "application/octet-stream", "", "application/json, text/plain"]
    encodings = [None, None, None, "gzip", "identity", "br", "GZIP"]
    prefixes = ["", "https://api.openai.com", "https://API.OPENAI.COM.", "https://api.openai.com:443",
                "http://api.openai.com", "https://evil.example", "//api.openai.com"]
    paths = ["/v1/embeddings", "//v1/embeddings", "/v1//embeddings", "/v1/./embeddings", "/v1/x/../embeddings",
             "/v1/%65mbeddings", "/v1/embeddings/", "/V1/Embeddings", "/v1/EMBEDDINGS", "/v1/embeddings;x",
             "/v1/embeddings#f", "/v1/embeddings?x=1", "/v1\\embeddings", "/v1/%2e/embeddings", "/%761/embeddings"]
    hosts = ["api.openai.com", "API.openai.com", "api.openai.com.", "api.openai.com:443", "evil.example",
             "api.openai.com:8443", None]
    methods = ["POST", "POST", "POST", "post", "PUT"]
    for _ in range(count):
        yield {"method": rng.choice(methods), "target": rng.choice(prefixes) + rng.choice(paths),
               "content_type": rng.choice(content_types), "encoding": rng.choice(encodings),
               "host": rng.choice(hosts)}


def cmd_variants():
    count, seed, body_text = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    for variant in generated_variants(count, seed):
        headers = []
        if variant["host"] is not None:
            headers.append(("Host", variant["host"]))
        if variant["content_type"] is not None:
            headers.append(("Content-Type", variant["content_type"]))
        body = body_text.encode()
        if variant["encoding"]:
            headers.append(("Content-Encoding", variant["encoding"]))
            if variant["encoding"].lower() == "gzip":
                body = gzip.compress(body)
        status, _ = send_request(variant["method"], variant["target"], headers, body)
        print(json.dumps({"variant": variant, "status": status}), flush=True)


def client_hello_with_ech(host):
    def u16(n):
        return n.to_bytes(2, "big")

    def extension(kind, data):
        return u16(kind) + u16(len(data)) + data

    name = host.encode()
    sni = extension(0, u16(len(name) + 3) + b"\x00" + u16(len(name)) + name)
    ech = extension(0xFE0D, b"\x00\x00\x01\x00\x01\x01\x00\x20" + b"\x00" * 32 + u16(16) + b"\x00" * 16)
    versions = extension(43, b"\x02\x03\x04")
    groups = extension(10, u16(2) + u16(29))
    key_share = extension(51, u16(36) + u16(29) + u16(32) + b"\x11" * 32)
    sig_algs = extension(13, u16(2) + u16(0x0804))
    extensions = sni + versions + groups + key_share + sig_algs + ech
    body = b"\x03\x03" + b"\x42" * 32 + b"\x00" + u16(2) + u16(0x1301) + b"\x01\x00" + u16(len(extensions)) + extensions
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + u16(len(message)) + message


def cmd_ech():
    sock = socket.create_connection(("api.openai.com", 443), timeout=10)
    sock.sendall(client_hello_with_ech("api.openai.com"))
    data = b""
    try:
        while True:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
    except (ConnectionResetError, socket.timeout):
        pass
    print(data.hex())


def cmd_stalled_hellos():
    count, hold_s = int(sys.argv[2]), float(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 64)), hard))
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("api.openai.com", 443), timeout=10)
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03")  # a record that never completes
        sock.setblocking(False)
        sockets.append(sock)
    print(f"opened {len(sockets)}", flush=True)
    time.sleep(hold_s)
    closed = 0
    for sock in sockets:
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print(f"closed {closed}", flush=True)


if __name__ == "__main__":
    {"request": cmd_request, "variants": cmd_variants, "ech": cmd_ech, "stalled-hellos": cmd_stalled_hellos}[sys.argv[1]]()
