"""Sends raw bytes to api.openai.com:443 (over TLS unless --plain) and prints what comes back.

Used by the fault tests to send what no well-behaved client would: malformed HTTP, conflicting
framing headers, plain text on the TLS port. Trust comes from SSL_CERT_FILE, as for any client.
"""
import socket
import ssl
import sys

plain = "--plain" in sys.argv
payload = sys.argv[-1].encode().decode("unicode_escape").encode("latin-1")
sock = socket.create_connection(("api.openai.com", 443), timeout=10)
if not plain:
    sock = ssl.create_default_context().wrap_socket(sock, server_hostname="api.openai.com")
sock.sendall(payload)
chunks = []
try:
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
except (ConnectionResetError, socket.timeout, ssl.SSLError) as error:
    chunks.append(f"\n<{type(error).__name__}>".encode())
print(b"".join(chunks).decode("latin-1"))
