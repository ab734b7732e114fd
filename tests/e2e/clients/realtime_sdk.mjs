// Unmodified `openai` SDK realtime client over WebSocket (openai/realtime/ws): opens a session
// on MODEL, sends PROMPT as a user item, asks for a response and collects its text deltas.
// Prints {opened, text, usage, errors, close} as JSON.
//   node realtime_sdk.mjs PROMPT [MODEL]
import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";

const prompt = process.argv[2] ?? "hello";
const model = process.argv[3] ?? "gpt-realtime";
const result = { opened: false, text: "", usage: null, errors: [], close: null };
const rt = new OpenAIRealtimeWS({ model }, new OpenAI());
const finish = () => {
  console.log(JSON.stringify(result));
  process.exit(0);
};
setTimeout(() => {
  result.errors.push("timeout");
  finish();
}, 15000);

rt.on("error", (err) => result.errors.push(String(err?.message ?? err)));
rt.socket.on("close", (code, reason) => {
  result.close = { code, reason: reason.toString() };
  finish();
});
rt.on("session.created", () => {
  result.opened = true;
  rt.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text: prompt }] },
  });
  rt.send({ type: "response.create" });
});
rt.on("response.output_text.delta", (event) => (result.text += event.delta));
rt.on("response.done", (event) => {
  result.usage = event.response.usage;
  rt.close({ code: 1000, reason: "done" });
});
