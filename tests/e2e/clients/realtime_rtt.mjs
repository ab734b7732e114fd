// The client of the realtime benchmark (tests/bench/realtime_bench.sh): opens URL with the
// `ws` package and sends FRAMES conversation.item.create events one at a time, each as soon as
// the previous one's conversation.item.created came back; prints the round trips in µs as a
// JSON array. CA trust comes from NODE_EXTRA_CA_CERTS, the key from OPENAI_API_KEY.
//   node realtime_rtt.mjs URL FRAMES
import WebSocket from "ws";

const [url, framesArg] = process.argv.slice(2);
const frames = Number(framesArg ?? 1000);
const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${process.env.OPENAI_API_KEY}` } });
const event = JSON.stringify({
  type: "conversation.item.create",
  item: { type: "message", role: "user",
          content: [{ type: "input_text", text: "a short spoken turn, transcribed: book the 9:40 train to Lyon" }] },
});
const rtts = [];
let sentAt = 0n;
const send = () => {
  sentAt = process.hrtime.bigint();
  ws.send(event);
};
ws.on("error", (err) => {
  console.error(err.message);
  process.exit(1);
});
ws.on("message", (data) => {
  const type = JSON.parse(data.toString()).type;
  if (type === "session.created") return send();
  if (type !== "conversation.item.created") return;
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1000);
  if (rtts.length < frames) return send();
  console.log(JSON.stringify(rtts));
  ws.close(1000, "done");
});
ws.on("close", () => process.exit(0));
