#!/usr/bin/python3
"""Sends a generated corpus of requests through sluice with Python's urllib: string-carrying
fields of Chat Completions, Responses and Embeddings (member names included), each holding a
blocked marker, a secret or an email, spelled plainly, with JSON escapes, fullwidth, with
format characters, in data: URIs, as JSON in a string, and split across parts. Prints one JSON
line per request: {"case", "expect", "status", "code"}. The values come from the environment
(E2E_MARKER, E2E_SECRET, E2E_EMAIL), never argv: the audit records the command line."""
import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

VALUES = [("blocked", os.environ["E2E_MARKER"]), ("masked", os.environ["E2E_SECRET"]),
          ("masked", os.environ["E2E_EMAIL"])]

FIELDS = [
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":$V}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","name":$V,"content":"hi"}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":$V}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":$V,"parameters":{"type":"object","properties":{$K:{"type":"string"}}}}}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"prediction":{"type":"content","content":$V},"user":$V}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{$K:"v","k":$V}}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":$V}}]}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":$A},{"type":"text","text":$B}]}]}'),
    ("/v1/chat/completions", '{"model":"gpt-4o","messages":[{"role":"user","content":$A},{"role":"user","content":$B}]}'),
    ("/v1/responses", '{"model":"gpt-4.1","instructions":$V,"input":"hi"}'),
    ("/v1/responses", '{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_file","filename":"a.txt","file_data":$V}]}]}'),
    ("/v1/responses", '{"model":"gpt-4.1","input":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":$V}]}]}'),
    ("/v1/responses", '{"model":"gpt-4.1","prompt":{"id":"pmpt_1","variables":{"v":$V}}}'),
    ("/v1/responses", '{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":$A},{"type":"input_text","text":$B}]}]}'),
    ("/v1/embeddings", '{"model":"text-embedding-3-small","input":["x",$V],"user":$V}'),
]


def fullwidth(s):
    return "".join(chr(ord(c) + 0xFEE0) if " " < c < "\x7f" else c for c in s)


def spellings(value):
    b64 = base64.b64encode(("note " + value + " end").encode()).decode()
    return [
        ("plain", value, False, False),
        ("json escapes", value, True, False),
        ("fullwidth", fullwidth(value), False, False),
        ("zero-width", "\u200b".join(value), False, False),
        ("no-break and soft hyphen", "\u00ad".join(value).replace("@", "\u00a0@"), False, False),
        ("data uri", "data:text/plain;base64," + b64, False, True),
        ("json in a string", json.dumps({"v": value}), False, True),
    ]


def literal(text, escape_all):
    if not escape_all:
        return json.dumps(text)
    return '"' + "".join("\\u%04x" % ord(c) for c in text) + '"'


def bodies():
    for path, template in FIELDS:
        split = "$A" in template
        for expect, value in VALUES:
            for name, text, escape_all, encoded in spellings(value):
                if split and encoded:
                    continue
                if split:
                    for cut in (1, len(text) // 2, len(text) - 1):
                        yield (path, expect, f"{path} {name} cut {cut}",
                               template.replace("$A", literal(text[:cut], escape_all))
                                       .replace("$B", literal(text[cut:], escape_all)))
                else:
                    lit = literal(text, escape_all)
                    yield path, expect, f"{path} {name}", template.replace("$V", lit).replace("$K", lit)


def main():
    context = ssl.create_default_context()
    for path, expect, case, body in bodies():
        json.loads(body)  # the corpus itself is valid JSON
        request = urllib.request.Request("https://api.openai.com" + path, data=body.encode(), method="POST",
                                         headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"],
                                                  "Content-Type": "application/json"})
        code = ""
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as e:
            status = e.code
            try:
                code = json.loads(e.read())["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
        print(json.dumps({"case": case, "expect": expect, "status": status, "code": code}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
