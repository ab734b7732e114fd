// A plain `ws` WebSocket client of the Realtime API, scripted by one JSON argument:
//   {"model": "gpt-realtime", "headers": {...}, "protocols": [...], "send": [events...],
//    "responses": N, "binary": "text to send as a binary frame", "close": {code, reason},
//    "big": BYTES (a text message of that many bytes, sent after `send`),
//    "big_binary": BYTES (a binary message of that many bytes, sent after `send`),
//    "ping": "payload" (a ping sent after `send`; its pong is reported in `pong`),
//    "fragments": ["a", "b"], "gap_ms": N (one binary message sent as these fragments, N ms
//    apart, in place of `binary`; what comes back is reported in `binary`)}
// Opens wss://api.openai.com/v1/realtime?model=..., sends `send` once the session is created,
// waits for N response.done events, sends `binary` and waits for it to come back, then closes.
// Prints {status, body, protocol, events (types), text, transcript, usage, binary, close}.
import WebSocket from "ws";

const script = JSON.parse(process.argv[2] ?? "{}");
const url = `wss://api.openai.com/v1/realtime?model=${encodeURIComponent(script.model ?? "gpt-realtime")}`;
const headers = script.headers ?? { Authorization: `Bearer ${process.env.OPENAI_API_KEY}` };
const ws = new WebSocket(url, script.protocols ?? [], { headers });
const out = { status: 101, body: null, protocol: null, events: [], text: "", transcript: "",
              usage: [], binary: null, close: null };
let done = 0;
const finish = () => {
  console.log(JSON.stringify(out));
  process.exit(0);
};
setTimeout(() => {
  out.events.push("timeout");
  finish();
}, 15000);

const sendFragments = (fragments, index) => {
  const last = index === fragments.length - 1;
  ws.send(Buffer.from(fragments[index]), { binary: true, fin: last });
  if (!last) setTimeout(() => sendFragments(fragments, index + 1), script.gap_ms ?? 0);
};

const closeOrBinary = () => {
  if (script.fragments !== undefined && out.binary === null) {
    sendFragments(script.fragments, 0);
    return;
  }
  if (script.binary !== undefined && out.binary === null) {
    ws.send(Buffer.from(script.binary), { binary: true });
    return;
  }
  ws.close(script.close?.code ?? 1000, script.close?.reason ?? "bye");
};

ws.on("unexpected-response", (_req, res) => {
  out.status = res.statusCode;
  let body = "";
  res.on("data", (chunk) => (body += chunk));
  res.on("end", () => {
    out.body = body;
    finish();
  });
});
ws.on("error", (err) => out.events.push(`error: ${err.message}`));
ws.on("open", () => (out.protocol = ws.protocol));
ws.on("pong", (data) => {
  out.pong = data.toString();
  if (!(script.responses > 0)) closeOrBinary();
});
ws.on("close", (code, reason) => {
  out.close = { code, reason: reason.toString() };
  finish();
});
ws.on("message", (data, isBinary) => {
  if (isBinary) {
    out.binary = data.toString();
    closeOrBinary();
    return;
  }
  const event = JSON.parse(data.toString());
  out.events.push(event.type);
  if (event.type === "session.created") {
    for (const e of script.send ?? []) ws.send(JSON.stringify(e));
    if (script.ping !== undefined) ws.ping(Buffer.from(script.ping));
    if (script.big) ws.send(`{"type":"conversation.item.create","pad":"${"x".repeat(script.big)}"}`);
    if (script.big_binary) ws.send(Buffer.alloc(script.big_binary, 7), { binary: true });
    if (!(script.responses > 0) && script.ping === undefined) closeOrBinary();
  }
  if (event.type.endsWith("text.delta")) out.text += event.delta;
  if (event.type.endsWith("audio_transcript.delta")) out.transcript += event.delta;
  if (event.type === "response.done") {
    out.usage.push(event.response.usage);
    if (++done === script.responses) closeOrBinary();
  }
});
