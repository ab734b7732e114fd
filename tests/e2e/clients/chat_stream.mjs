// Unmodified `openai` SDK usage: a streamed chat completion with usage in the final chunk.
import OpenAI from "openai";

const client = new OpenAI();
const stream = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: process.env.E2E_PROMPT ?? process.argv[2] ?? "stream please" }],
  stream: true,
  stream_options: { include_usage: true },
});
let content = "";
let chunks = 0;
let usage = null;
for await (const chunk of stream) {
  chunks += 1;
  content += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
console.log(JSON.stringify({ content, chunks, usage }));
