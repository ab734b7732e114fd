// Unmodified `@openai/agents` usage: an agent run that calls a function tool.
import { Agent, run, tool } from "@openai/agents";
import { setTracingDisabled } from "@openai/agents";
import { z } from "zod";

setTracingDisabled(true);  // tracing would export to the internet; this machine has none
let toolCalls = 0;
const getWeather = tool({
  name: "get_weather",
  description: "Weather for a city",
  parameters: z.object({ city: z.string().nullable() }),
  execute: async () => {
    toolCalls += 1;
    return "sunny-and-21C";
  },
});
const agent = new Agent({
  name: "weather",
  instructions: "Answer with the weather.",
  tools: [getWeather],
  model: "gpt-4.1-mini",
});
const result = await run(agent, process.argv[2] ?? "What is the weather in Paris?");
console.log(JSON.stringify({ finalOutput: result.finalOutput, toolCalls }));
