// Unmodified `openai` SDK usage: a streamed chat completion; prints the content and chunk
// count, or what the SDK surfaced on an error ({status, code, message}). argv: prompt
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: Number(process.env.SDK_MAX_RETRIES ?? 2) });
const started = Date.now();
try {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: process.argv[2] ?? "stream please" }],
    stream: true,
  });
  let content = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    content += chunk.choices[0]?.delta?.content ?? "";
  }
  console.log(JSON.stringify({ ok: true, content, chunks, elapsed_ms: Date.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, status: error.status, code: error.code, message: error.message,
                               elapsed_ms: Date.now() - started }));
}
