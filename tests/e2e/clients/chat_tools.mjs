// The `openai` SDK's Chat Completions with a function tool: prints the assistant message the
// client got (tool calls, content, finish reason). argv[2]: prompt; argv[3] "stream": streamed.
import OpenAI from "openai";

const client = new OpenAI();
const [prompt, mode] = process.argv.slice(2);
const request = {
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: prompt }],
  tools: [{
    type: "function",
    function: {
      name: "run_shell",
      description: "Run a shell command",
      parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
    },
  }],
};
if (mode === "stream") {
  const stream = await client.chat.completions.create({ ...request, stream: true });
  let content = "", finish = null;
  const calls = [];
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      content += choice.delta?.content ?? "";
      for (const call of choice.delta?.tool_calls ?? []) {
        calls[call.index] ??= { name: "", arguments: "" };
        calls[call.index].name += call.function?.name ?? "";
        calls[call.index].arguments += call.function?.arguments ?? "";
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  console.log(JSON.stringify({ calls, content, finish }));
} else {
  const answer = await client.chat.completions.create(request);
  const choice = answer.choices[0];
  const calls = (choice.message.tool_calls ?? []).map((c) => c.function);
  console.log(JSON.stringify({ calls, content: choice.message.content, finish: choice.finish_reason }));
}
