// Issue 22: tool calls a model proposes are decided before the agent receives them — by tool
// name and by argument content, in JSON answers and in streams whose arguments arrive in
// pieces split anywhere.
#include <gtest/gtest.h>

#include <map>

#include "policy/policy_loader.h"
#include "policy/sse_parser.h"
#include "policy/tool_calls/tool_call_answer.h"
#include "policy/tool_calls/tool_call_stream.h"

namespace sluice {
namespace {

using nlohmann::json;

const char* kPolicy = R"(default: allow
rules:
  - name: agents
    match: {}
    tool_calls:
      - tools: [run_shell]
        arguments: {patterns: ['rm\s+-rf']}
        action: deny
      - tools: [run_shell]
        where: {"$.command": '^sudo\b'}
        action: deny
      - tools: [login]
        action: redact
        redact: ["$.password", "$.auth.token"]
      - tools: ["mcp:github/*", local_shell]
        action: deny
)";

std::shared_ptr<const ToolCallControl> control() {
    static auto loaded = load_policy(kPolicy, "policy.yaml");
    EXPECT_TRUE(loaded.ok()) << loaded.error;
    return loaded.policy->rules.at(0).tool_calls;
}

ToolCallDecision decide(const std::string& name, const std::string& arguments) {
    return decide_tool_call(*control(), {name, arguments});
}

TEST(ToolCalls, DecidedByNameArgumentsAndConditionsInEverySpelling) {
    // The same command written plainly, with JSON escapes, with look-alike characters.
    for (const std::string& args : std::vector<std::string>{
             R"({"command":"rm -rf /"})", R"({"command":"rm\u0020-rf /"})",
             R"({"command":"echo ok && rm   -rf ~"})", "{\"command\":\"rm\xE2\x80\x8B -rf /\"}",
             "{\"command\":\"\xEF\xBD\x92m -rf /\"}", R"({"nested":{"x":["rm -rf /tmp"]}})"})
        EXPECT_EQ(decide("run_shell", args).action, ToolCallAction::deny) << args;
    EXPECT_EQ(decide("run_shell", R"({"command":"sudo ls"})").action, ToolCallAction::deny);
    EXPECT_EQ(decide("run_shell", R"({"command":"ls -la"})").action, ToolCallAction::allow);
    EXPECT_EQ(decide("read_file", R"({"path":"rm -rf"})").action, ToolCallAction::allow);
    EXPECT_EQ(decide("mcp:github/create_issue", "{}").action, ToolCallAction::deny);
    EXPECT_EQ(decide("mcp:gitlab/create_issue", "{}").action, ToolCallAction::allow);
    // Conditions that cannot be checked hold: arguments that are not a JSON object.
    EXPECT_EQ(decide("run_shell", "not json").action, ToolCallAction::deny);
    const auto redacted =
        decide("login", R"({"user":"a","password":"hunter2","auth":{"token":"t"}})");
    ASSERT_EQ(redacted.action, ToolCallAction::redact);
    EXPECT_EQ(json::parse(redacted.arguments),
              json::parse(R"({"user":"a","password":"[REDACTED]","auth":{"token":"[REDACTED]"}})"));
    EXPECT_EQ(decide("login", "[1]").action, ToolCallAction::redact);  // caller refuses it
}

TEST(ToolCalls, BadEntriesAreRefusedWithOneLine) {
    auto error = [](const std::string& entry) {
        auto result = load_policy(
            "default: allow\nrules:\n  - name: r\n    match: {}\n"
            "    tool_calls:\n      - " +
                entry + "\n",
            "p.yaml");
        EXPECT_FALSE(result.ok()) << entry;
        EXPECT_EQ(result.error.find('\n'), std::string::npos);
        return result.error;
    };
    EXPECT_NE(error("{tools: [x], action: maybe}")
                  .find("must be allow, deny, redact or require_approval"),
              std::string::npos);
    EXPECT_NE(error("{where: {command: x}, action: deny}").find("is not a path"),
              std::string::npos);
    EXPECT_NE(error("{where: {$.c: '('}, action: deny}").find("bad regex"), std::string::npos);
    EXPECT_NE(error("{action: redact}").find("needs the paths"), std::string::npos);
    EXPECT_NE(error("{action: deny, redact: [$.a]}").find("only with action: redact"),
              std::string::npos);
}

json chat_answer(const json& calls) {
    return {{"id", "chatcmpl-1"},
            {"object", "chat.completion"},
            {"choices",
             json::array({{{"index", 0},
                           {"message",
                            {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}}},
                           {"finish_reason", "tool_calls"}}})}};
}

json chat_call(const std::string& id, const std::string& name, const std::string& args) {
    return {{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}};
}

TEST(ToolCalls, ChatAnswerLosesRefusedCallsAndSaysWhy) {
    json answer =
        chat_answer(json::array({chat_call("c1", "run_shell", R"({"command":"rm -rf /"})")}));
    auto outcome = apply_tool_call_policy(answer, "/v1/chat/completions", *control(), "agents");
    EXPECT_TRUE(outcome.changed);
    const json& choice = answer["choices"][0];
    EXPECT_FALSE(choice["message"].contains("tool_calls"));
    EXPECT_EQ(choice["finish_reason"], "stop");
    const std::string content = choice["message"]["content"];
    EXPECT_NE(content.find("run_shell"), std::string::npos);
    EXPECT_NE(content.find("agents"), std::string::npos);
    ASSERT_EQ(outcome.calls.size(), 1u);
    EXPECT_EQ(outcome.calls[0].action, ToolCallAction::deny);

    json mixed =
        chat_answer(json::array({chat_call("c1", "run_shell", R"({"command":"ls"})"),
                                 chat_call("c2", "run_shell", R"({"command":"sudo x"})")}));
    apply_tool_call_policy(mixed, "/v1/chat/completions", *control(), "agents");
    ASSERT_EQ(mixed["choices"][0]["message"]["tool_calls"].size(), 1u);
    EXPECT_EQ(mixed["choices"][0]["message"]["tool_calls"][0]["id"], "c1");
    EXPECT_EQ(mixed["choices"][0]["finish_reason"], "tool_calls");

    json allowed = chat_answer(json::array({chat_call("c1", "run_shell", R"({"command":"ls"})")}));
    const json before = allowed;
    EXPECT_FALSE(
        apply_tool_call_policy(allowed, "/v1/chat/completions", *control(), "agents").changed);
    EXPECT_EQ(allowed, before);
}

TEST(ToolCalls, ResponsesCallItemBecomesAnExplanationMessage) {
    json answer = {
        {"id", "resp_1"},
        {"output", json::array({{{"type", "function_call"},
                                 {"id", "fc_1"},
                                 {"call_id", "call_1"},
                                 {"name", "run_shell"},
                                 {"arguments", R"({"command":"rm -rf /"})"}},
                                {{"type", "local_shell_call"},
                                 {"id", "ls_1"},
                                 {"action", {{"type", "exec"}, {"command", {"ls"}}}}}})}};
    auto outcome = apply_tool_call_policy(answer, "/v1/responses", *control(), "agents");
    ASSERT_EQ(outcome.calls.size(), 2u);
    for (const auto& item : answer["output"]) {
        EXPECT_EQ(item["type"], "message");
        EXPECT_NE(item["content"][0]["text"].get<std::string>().find("was not run"),
                  std::string::npos);
    }
}

// A chat stream with one tool call whose arguments arrive as `pieces`.
std::string chat_stream(const std::string& name, const std::vector<std::string>& pieces) {
    auto chunk = [](json delta, json finish) {
        return "data: " +
               json{{"id", "c"},
                    {"object", "chat.completion.chunk"},
                    {"model", "m"},
                    {"choices",
                     json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}}
                   .dump() +
               "\n\n";
    };
    std::string out =
        chunk({{"role", "assistant"},
               {"tool_calls", json::array({{{"index", 0},
                                            {"id", "call_1"},
                                            {"type", "function"},
                                            {"function", {{"name", name}, {"arguments", ""}}}}})}},
              nullptr);
    for (const auto& p : pieces)
        out +=
            chunk({{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", p}}}}})}},
                  nullptr);
    return out + chunk(json::object(), "tool_calls") + "data: [DONE]\n\n";
}

// A Responses stream with one function_call item whose arguments arrive as `pieces`.
std::string responses_stream(const std::string& name, const std::vector<std::string>& pieces) {
    std::string full;
    for (const auto& p : pieces) full += p;
    int seq = 0;
    auto ev = [&](const std::string& type, json body) {
        body["type"] = type;
        body["sequence_number"] = seq++;
        return "event: " + type + "\ndata: " + body.dump() + "\n\n";
    };
    auto item = [&](const std::string& status, const std::string& args) {
        return json{{"type", "function_call"}, {"id", "fc_1"},
                    {"call_id", "call_1"},     {"name", name},
                    {"arguments", args},       {"status", status}};
    };
    std::string out =
        ev("response.created", {{"response", {{"id", "r"}, {"output", json::array()}}}});
    out +=
        ev("response.output_item.added", {{"output_index", 0}, {"item", item("in_progress", "")}});
    for (const auto& p : pieces)
        out += ev("response.function_call_arguments.delta",
                  {{"item_id", "fc_1"}, {"output_index", 0}, {"delta", p}});
    out += ev("response.function_call_arguments.done",
              {{"item_id", "fc_1"}, {"output_index", 0}, {"arguments", full}});
    out +=
        ev("response.output_item.done", {{"output_index", 0}, {"item", item("completed", full)}});
    out += ev("response.completed", {{"response",
                                      {{"id", "r"},
                                       {"status", "completed"},
                                       {"output", json::array({item("completed", full)})}}}});
    return out;
}

struct Seen {
    std::string calls_args;  // every tool-call argument delta the client got, joined
    std::string text;        // every text the client got
    std::vector<json> final_output;
    std::vector<int64_t> sequence;
    std::string finish_reason;
};

Seen run(const std::string& path, const std::string& stream, std::size_t cut) {
    ToolCallStreamFilter filter(*control(), "agents", path);
    std::string out;
    EXPECT_TRUE(filter.feed(std::string_view(stream).substr(0, cut), out));
    EXPECT_TRUE(filter.feed(std::string_view(stream).substr(cut), out));
    EXPECT_TRUE(filter.finish(out));
    Seen seen;
    SseParser parser;
    parser.feed(out, [&](const SseEvent& e) {
        if (e.data == "[DONE]") return;
        json data = json::parse(e.data);
        if (data.contains("sequence_number")) seen.sequence.push_back(data["sequence_number"]);
        if (data.contains("choices")) {
            for (const auto& choice : data["choices"]) {
                const json& delta = choice["delta"];
                if (delta.contains("tool_calls"))
                    for (const auto& call : delta["tool_calls"])
                        seen.calls_args += call["function"].value("arguments", "");
                if (delta.contains("content") && delta["content"].is_string())
                    seen.text += delta["content"].get<std::string>();
                if (!choice["finish_reason"].is_null())
                    seen.finish_reason = choice["finish_reason"];
            }
        }
        const std::string type = data.value("type", "");
        if (type == "response.function_call_arguments.delta") seen.calls_args += data["delta"];
        if (type == "response.output_text.delta") seen.text += data["delta"];
        if (type == "response.completed")
            for (const auto& item : data["response"]["output"]) seen.final_output.push_back(item);
    });
    return seen;
}

TEST(ToolCalls, StreamedArgumentsSplitAnywhereAreDecidedWhole) {
    const std::string denied = R"({"command":"rm -rf /"})";
    const std::string allowed = R"({"command":"ls -la"})";
    for (std::size_t k = 0; k <= denied.size(); ++k) {
        const std::vector<std::string> pieces = {denied.substr(0, k), denied.substr(k)};
        {
            const std::string stream = chat_stream("run_shell", pieces);
            for (std::size_t cut : {std::size_t{0}, stream.size() / 2, stream.size() - 3}) {
                Seen seen = run("/v1/chat/completions", stream, cut);
                EXPECT_EQ(seen.calls_args, "") << k;
                EXPECT_NE(seen.text.find("blocked the tool call run_shell"), std::string::npos);
                EXPECT_EQ(seen.finish_reason, "stop");
            }
        }
        Seen responses = run("/v1/responses", responses_stream("run_shell", pieces), 7 * k);
        EXPECT_EQ(responses.calls_args, "") << k;
        EXPECT_NE(responses.text.find("blocked the tool call run_shell"), std::string::npos);
        ASSERT_EQ(responses.final_output.size(), 1u);
        EXPECT_EQ(responses.final_output[0]["type"], "message");
        for (std::size_t i = 0; i < responses.sequence.size(); ++i)
            EXPECT_EQ(responses.sequence[i], static_cast<int64_t>(i));
    }
    for (std::size_t k = 0; k <= allowed.size(); ++k) {
        const std::vector<std::string> pieces = {allowed.substr(0, k), allowed.substr(k)};
        Seen chat = run("/v1/chat/completions", chat_stream("run_shell", pieces), 11 * k);
        EXPECT_EQ(chat.calls_args, allowed);
        EXPECT_EQ(chat.finish_reason, "tool_calls");
        Seen responses = run("/v1/responses", responses_stream("run_shell", pieces), 5 * k);
        EXPECT_EQ(responses.calls_args, allowed);
        ASSERT_EQ(responses.final_output.size(), 1u);
        EXPECT_EQ(responses.final_output[0]["arguments"], allowed);
    }
    // One byte per delta.
    std::vector<std::string> bytes;
    for (char c : denied) bytes.emplace_back(1, c);
    EXPECT_EQ(run("/v1/chat/completions", chat_stream("run_shell", bytes), 0).calls_args, "");
}

// Choices of an n > 1 answer interleave, and Responses call items may overlap: a call is never
// decided on part of its arguments, nor passed undecided because another call was held.
TEST(ToolCalls, InterleavedChoicesAndOverlappingItemsAreEachDecidedWhole) {
    auto chunk = [](int choice, json delta, json finish) {
        return "data: " +
               json{{"id", "c"},
                    {"object", "chat.completion.chunk"},
                    {"choices",
                     json::array(
                         {{{"index", choice}, {"delta", delta}, {"finish_reason", finish}}})}}
                   .dump() +
               "\n\n";
    };
    auto call_delta = [](const std::string& args, bool first) {
        json call = {{"index", 0}, {"function", {{"arguments", args}}}};
        if (first) {
            call["id"] = "call_x";
            call["type"] = "function";
            call["function"]["name"] = "run_shell";
        }
        return json{{"tool_calls", json::array({call})}};
    };
    std::string stream = chunk(0, call_delta(R"({"command":"rm -)", true), nullptr) +
                         chunk(1, call_delta(R"({"command":"ls"})", true), nullptr) +
                         chunk(1, json::object(), "tool_calls") +
                         chunk(0, call_delta(R"(rf /"})", false), nullptr) +
                         chunk(0, json::object(), "tool_calls") + "data: [DONE]\n\n";
    for (std::size_t cut = 0; cut <= stream.size(); cut += 17) {
        ToolCallStreamFilter filter(*control(), "agents", "/v1/chat/completions");
        std::string out;
        ASSERT_TRUE(filter.feed(stream.substr(0, cut), out));
        ASSERT_TRUE(filter.feed(stream.substr(cut), out));
        ASSERT_TRUE(filter.finish(out));
        std::map<int, std::string> args;
        std::map<int, std::string> finish;
        SseParser parser;
        parser.feed(out, [&](const SseEvent& e) {
            if (e.data == "[DONE]") return;
            const json chunk = json::parse(e.data);
            for (const auto& choice : chunk["choices"]) {
                const int index = choice["index"];
                if (choice["delta"].contains("tool_calls"))
                    for (const auto& call : choice["delta"]["tool_calls"])
                        args[index] += call["function"].value("arguments", "");
                if (!choice["finish_reason"].is_null()) finish[index] = choice["finish_reason"];
            }
        });
        EXPECT_EQ(args[0], "") << cut;
        EXPECT_EQ(finish[0], "stop");
        EXPECT_EQ(args[1], R"({"command":"ls"})");
        EXPECT_EQ(finish[1], "tool_calls");
        ASSERT_EQ(filter.calls().size(), 2u);
    }

    // Responses: item 1 is added while item 0 is held; both are decided.
    int seq = 0;
    auto ev = [&](const std::string& type, json body) {
        body["type"] = type;
        body["sequence_number"] = seq++;
        return "event: " + type + "\ndata: " + body.dump() + "\n\n";
    };
    auto item = [](const std::string& id, const std::string& args) {
        return json{{"type", "function_call"}, {"id", id},          {"call_id", id},
                    {"name", "run_shell"},     {"arguments", args}, {"status", "completed"}};
    };
    const std::string denied = R"({"command":"rm -rf /"})", allowed = R"({"command":"ls"})";
    std::string events =
        ev("response.output_item.added", {{"output_index", 0}, {"item", item("a", "")}}) +
        ev("response.output_item.added", {{"output_index", 1}, {"item", item("b", "")}}) +
        ev("response.function_call_arguments.delta", {{"output_index", 1}, {"delta", denied}}) +
        ev("response.function_call_arguments.delta", {{"output_index", 0}, {"delta", allowed}}) +
        ev("response.output_item.done", {{"output_index", 0}, {"item", item("a", allowed)}}) +
        ev("response.output_item.done", {{"output_index", 1}, {"item", item("b", denied)}}) +
        ev("response.completed",
           {{"response", {{"output", json::array({item("a", allowed), item("b", denied)})}}}});
    ToolCallStreamFilter filter(*control(), "agents", "/v1/responses");
    std::string out;
    ASSERT_TRUE(filter.feed(events, out));
    ASSERT_TRUE(filter.finish(out));
    EXPECT_EQ(out.find("rm -rf"), std::string::npos);
    EXPECT_NE(out.find(R"(\"command\":\"ls\")"), std::string::npos);
    ASSERT_EQ(filter.calls().size(), 2u);
}

TEST(ToolCalls, AStreamCutInsideACallOrUnreadableFailsClosed) {
    const std::string stream = chat_stream("run_shell", {R"({"command":"rm)", R"( -rf /"})"});
    // Everything up to (not including) the chunk that finishes the call.
    const std::size_t finish =
        stream.rfind("data:", stream.find(R"("finish_reason":"tool_calls")"));
    ToolCallStreamFilter filter(*control(), "agents", "/v1/chat/completions");
    std::string out;
    ASSERT_TRUE(filter.feed(stream.substr(0, finish), out));
    EXPECT_EQ(out, "");
    EXPECT_FALSE(filter.finish(out));
    EXPECT_EQ(out.find("rm"), std::string::npos);
    EXPECT_NE(out.find("tool_call_policy_failed"), std::string::npos);

    ToolCallStreamFilter garbled(*control(), "agents", "/v1/responses");
    std::string garbled_out;
    const std::string events = responses_stream("run_shell", {R"({"command":"rm -rf /"})"});
    const std::size_t second = events.find("event: response.function_call_arguments.delta");
    garbled.feed(events.substr(0, second) + "data: {not json\n\n", garbled_out);
    EXPECT_EQ(garbled_out.find("rm -rf"), std::string::npos);
    EXPECT_NE(garbled_out.find("tool_call_policy_failed"), std::string::npos);
}

}  // namespace
}  // namespace sluice
