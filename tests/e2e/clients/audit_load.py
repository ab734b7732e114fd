"""Keeps THREADS clients sending Chat Completions for SECONDS, each request with its own model
name, and prints the model of every request it saw answered (200, whole body read), one per
line, as soon as it is answered.

  audit_load.py THREADS SECONDS PREFIX
Trust comes from SSL_CERT_FILE, as for any client.
"""
import json
import os
import sys
import threading
import time
import urllib.request


def worker(index, deadline, prefix, lock):
    n = 0
    while time.monotonic() < deadline:
        n += 1
        model = "%s-%d-%d" % (prefix, index, n)
        request = urllib.request.Request(
            "https://api.openai.com/v1/chat/completions",
            data=json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", ""),
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                answered = response.status == 200
        except Exception:  # sluiced killed: refused or reset until it is back
            answered = False
            time.sleep(0.02)
        if answered:
            with lock:
                print(model, flush=True)


def main():
    threads, seconds, prefix = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    workers = [threading.Thread(target=worker, args=(i, deadline, prefix, lock)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


main()
