"""Sends COUNT copies of one Chat Completions request at once, as a client bursting would.

  burst.py COUNT BODY_JSON
Prints one JSON line per request: {"status": code, "usage": the usage object the answer
carried (the final chunk's for a stream) or null, "code": the error code or null}.
Trust comes from SSL_CERT_FILE, as for any client.
"""
import json
import os
import sys
import threading
import urllib.error
import urllib.request


def send(body, results, index):
    request = urllib.request.Request(
        "https://api.openai.com/v1/chat/completions",
        data=body.encode(),
        headers={"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", ""),
                 "Content-Type": "application/json"})
    result = {"status": None, "usage": None, "code": None}
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result["status"] = response.status
            text = response.read().decode()
        if text.lstrip().startswith("{"):
            result["usage"] = json.loads(text).get("usage")
        else:
            for line in text.splitlines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    usage = json.loads(line[6:]).get("usage")
                    if usage:
                        result["usage"] = usage
    except urllib.error.HTTPError as error:
        result["status"] = error.code
        try:
            result["code"] = json.loads(error.read().decode())["error"]["code"]
        except (ValueError, KeyError, TypeError):
            pass
    except Exception as error:  # a reset or timeout is a result too
        result["code"] = type(error).__name__
    results[index] = result


def main():
    count, body = int(sys.argv[1]), sys.argv[2]
    results = [None] * count
    threads = [threading.Thread(target=send, args=(body, results, i)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        print(json.dumps(result))


main()
