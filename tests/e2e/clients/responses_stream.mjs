// Unmodified `openai` SDK usage: a streamed Responses API call.
import OpenAI from "openai";

const client = new OpenAI();
const stream = await client.responses.create({
  model: "gpt-4.1-mini",
  input: process.env.E2E_PROMPT ?? process.argv[2] ?? "respond please",
  stream: true,
});
let text = "";
let usage = null;
let events = 0;
for await (const event of stream) {
  events += 1;
  if (event.type === "response.output_text.delta") text += event.delta;
  if (event.type === "response.completed") usage = event.response.usage;
}
console.log(JSON.stringify({ text, events, usage }));
