# The target address's own listener: a connection that reaches it went direct, past sluice.
# Accepts, counts (into FILE) and closes each; the package test expects the count to stay 0
# while sluice is installed. Usage: never_accept.py ADDR PORT FILE
import socket
import sys

addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((addr, port))
server.listen(64)
count = 0
with open(path, "w") as f:
    f.write("0")
while True:
    conn, _ = server.accept()
    conn.close()
    count += 1
    with open(path, "w") as f:
        f.write(str(count))
