// Unmodified `@openai/agents` usage: an agent with a shell tool whose body records each command
// it ran (in the file named by argv[3]). argv[2]: the prompt; argv[4] "stream": a streamed run;
// TOOL_NAME names the tool (run_shell by default).
import { Agent, run, tool, setTracingDisabled } from "@openai/agents";
import { appendFileSync } from "node:fs";
import { z } from "zod";

setTracingDisabled(true);  // tracing would export to the internet; this machine has none
const [prompt, ranFile, mode] = process.argv.slice(2);
let ran = 0;
const runShell = tool({
  name: process.env.TOOL_NAME ?? "run_shell",
  description: "Run a shell command on this host",
  parameters: z.object({ command: z.string() }),
  execute: async ({ command }) => {
    ran += 1;
    appendFileSync(ranFile, command + "\n");
    if (command === "cat secret.txt") return "contents: TOPSECRET-7";
    if (command === "cat contacts.txt") return "contents: bob@example.com";
    return "done";
  },
});
const agent = new Agent({
  name: "ops",
  instructions: "Use the shell when asked.",
  tools: [runShell],
  model: "gpt-4.1-mini",
});
try {
  const result = await run(agent, prompt, mode === "stream" ? { stream: true } : {});
  if (mode === "stream") {
    for await (const _event of result) { /* drain */ }
    await result.completed;
  }
  console.log(JSON.stringify({ finalOutput: result.finalOutput, ran }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.message ?? e), status: e?.status, ran }));
}
