#!/usr/bin/env python3
"""Held-request benchmark roles (driven by tests/bench/approvals_bench.sh).

  client N RESULTS   ("-": stdout) as the requester, in the redirected cgroup: opens N TLS connections to
                     api.openai.com and sends one chat completion on each whose prompt is
                     "hold me <i>"; records when each answer's status line arrives
                     (CLOCK_MONOTONIC, shared by every process on the host) to RESULTS.
  approve SOCKET SAMPLE TIMES
                     as root on the admin socket: maps each held request to its i by the
                     masked excerpt, approves SAMPLE of them one at a time (20 ms apart),
                     recording when each approve command was sent, then denies the rest.
"""
import asyncio
import json
import os
import resource
import socket
import ssl
import sys
import time


async def client(n, results_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    key = os.environ["OPENAI_API_KEY"]
    opening = asyncio.Semaphore(50)  # handshakes at once; all stay open afterwards
    answers = {}

    async def one(i):
        async with opening:
            reader, writer = await asyncio.open_connection("api.openai.com", 443, ssl=context)
            body = json.dumps({"model": "gpt-4o-mini",
                               "messages": [{"role": "user", "content": f"hold me {i}"}]})
            writer.write((f"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                          f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
            await writer.drain()
        line = await reader.readline()
        answers[i] = {"t": time.monotonic(), "status": int(line.split()[1]) if line else 0}
        writer.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    if results_path == "-":  # the requester may not write where the driver keeps its files
        json.dump(answers, sys.stdout)
    else:
        with open(results_path, "w") as f:
            json.dump(answers, f)


def admin(path, request):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        sent = time.monotonic()
        s.sendall((json.dumps(request) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return sent, json.loads(data)


def approve(path, sample, times_path):
    _, listed = admin(path, {"command": "approvals", "verb": "list"})
    by_index = {}
    for a in listed["approvals"]:
        if a["state"] == "held" and a["excerpt"].startswith("hold me "):
            by_index[int(a["excerpt"].split()[2])] = a["id"]
    times = {}
    indexes = sorted(by_index)
    for i in indexes[:sample]:
        sent, answer = admin(path, {"command": "approvals", "verb": "approve", "id": by_index[i]})
        if answer.get("decision") == "approved":
            times[i] = sent
        time.sleep(0.02)
    for i in indexes[sample:]:
        admin(path, {"command": "approvals", "verb": "deny", "id": by_index[i], "reason": "bench"})
    with open(times_path, "w") as f:
        json.dump(times, f)


if __name__ == "__main__":
    if sys.argv[1] == "client":
        asyncio.run(client(int(sys.argv[2]), sys.argv[3]))
    else:
        approve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
