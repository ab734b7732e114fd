// Unmodified `openai` SDK usage: one chat completion; on an API error prints what the SDK
// surfaced ({status, code, type, message}) instead of throwing. argv: prompt model [max_tokens]
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: Number(process.env.SDK_MAX_RETRIES ?? 2) });
const started = Date.now();
try {
  const request = {
    model: process.argv[3] ?? "gpt-4o-mini",
    messages: [{ role: "user", content: process.argv[2] ?? "hello" }],
  };
  if (process.argv[4]) request.max_tokens = Number(process.argv[4]);
  const completion = await client.chat.completions.create(request);
  console.log(JSON.stringify({ ok: true, content: completion.choices[0].message.content,
                               usage: completion.usage, elapsed_ms: Date.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, status: error.status, code: error.code, type: error.type,
                               message: error.message, elapsed_ms: Date.now() - started }));
}
