"""Sends raw bytes to api.openai.com:443 (over TLS unless --plain) and prints what comes back.

Used by the fault tests to send what no well-behaved client would: malformed HTTP, conflicting
framing headers, plain text on the TLS port. Trust comes from SSL_CERT_FILE, as for any client.
Each "<pause>" in the payload is a half-second pause between writes (an idle keep-alive
connection, or a request arriving in pieces). --body-bytes N sends N more bytes after the
payload, as a request body too big to hold in an argument; the answer is read afterwards.
"""
import socket
import ssl
import sys
import time

plain = "--plain" in sys.argv
body_bytes = int(sys.argv[sys.argv.index("--body-bytes") + 1]) if "--body-bytes" in sys.argv else 0
payload = sys.argv[-1].encode().decode("unicode_escape").encode("latin-1")
sock = socket.create_connection(("api.openai.com", 443), timeout=10)
if not plain:
    sock = ssl.create_default_context().wrap_socket(sock, server_hostname="api.openai.com")
chunks = []
try:
    for index, part in enumerate(payload.split(b"<pause>")):
        if index > 0:
            time.sleep(0.5)
        sock.sendall(part)
    piece = b"x" * 65536
    for sent in range(0, body_bytes, len(piece)):
        sock.sendall(piece[: body_bytes - sent])
except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as error:
    chunks.append(f"<send: {type(error).__name__}>\n".encode())
try:
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
except (ConnectionResetError, socket.timeout, ssl.SSLError) as error:
    chunks.append(f"\n<{type(error).__name__}>".encode())
print(b"".join(chunks).decode("latin-1"))
