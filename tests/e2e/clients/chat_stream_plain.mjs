// Unmodified `openai` SDK usage: a streamed chat completion that does NOT ask for usage.
// Prints {content, chunks, usage_chunks} as JSON.
import OpenAI from "openai";

const client = new OpenAI();
const stream = await client.chat.completions.create({
  model: process.argv[3] ?? "gpt-4o-mini",
  messages: [{ role: "user", content: process.argv[2] ?? "stream please" }],
  stream: true,
});
let content = "";
let chunks = 0;
let usageChunks = 0;
for await (const chunk of stream) {
  chunks += 1;
  content += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usageChunks += 1;
}
console.log(JSON.stringify({ content, chunks, usage_chunks: usageChunks }));
