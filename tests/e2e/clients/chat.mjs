// Unmodified `openai` SDK usage: one chat completion. Prints {content, usage} as JSON.
import OpenAI from "openai";

const client = new OpenAI();
const prompt = process.env.E2E_PROMPT ?? process.argv[2] ?? "hello";
const completion = await client.chat.completions.create({
  model: process.argv[3] ?? "gpt-4o-mini",
  messages: [{ role: "user", content: prompt }],
});
console.log(JSON.stringify({ content: completion.choices[0].message.content, usage: completion.usage }));
