// RecognizerSet::find remembers short texts it found clean (clean_text_memo.h). What it answers
// from memory must be what it would have found: generated short texts under two sets and two
// entity choices, asked again in other orders, against the answers of a thread that saw each
// (set, entities, text) once.
#include "policy/clean_text_memo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "policy/masking/recognizers.h"

namespace sluice::masking {
namespace {

struct Config {
    std::shared_ptr<const RecognizerSet> set;
    EntitySet enabled;
};

EntitySet all_of(const RecognizerSet& set) {
    EntitySet enabled;
    for (std::size_t i = 0; i < set.entity_count(); ++i) enabled.add(static_cast<EntityId>(i));
    return enabled;
}

using Found = std::vector<std::tuple<std::size_t, std::size_t, EntityId>>;

Found find(const Config& config, const std::string& text) {
    Spans spans;
    EXPECT_TRUE(config.set->find(text, config.enabled, spans));
    Found out;
    for (const auto& s : spans) out.emplace_back(s.begin, s.end, s.entity);
    return out;
}

// Short texts around the memo's size limit, from pieces that make and almost make values.
std::vector<std::string> generated_texts(std::size_t count) {
    static const std::vector<std::string> kPieces = {
        "a",    "x",     "E",           "M",         "P",
        "-",    ".",     "@",           " ",         "+",
        "(",    ")",     "0",           "1",         "4",
        "5",    "9",     "EMP-",        "123456",    "@example.com",
        "jane", "4111",  " 1111",       "+1 (415) ", "555-",
        "0132", "model", "gpt-4o-mini", "\xc2\xa0",  "\xef\xbc\x91",
        "\n"};
    std::mt19937 rng(15);
    std::set<std::string> seen;
    std::vector<std::string> out;
    while (out.size() < count) {
        std::string text;
        const std::size_t target = rng() % (CleanTextMemo::kMaxTextBytes + 9);
        while (text.size() < target) text += kPieces[rng() % kPieces.size()];
        if (seen.insert(text).second) out.push_back(text);
    }
    return out;
}

TEST(CleanTextMemo, AnswersAsTheRecognizersWould) {
    std::string error;
    const auto custom = RecognizerSet::compile({{"employee_id", R"(EMP-\d{6})"}}, error);
    ASSERT_TRUE(custom) << error;
    const auto builtin = RecognizerSet::builtin();
    EntitySet phone_only;
    phone_only.add(id_of(Entity::phone));
    const std::vector<Config> configs = {{builtin, all_of(*builtin)},
                                         {builtin, phone_only},
                                         {custom, all_of(*custom)},
                                         {custom, phone_only}};
    const std::vector<std::string> texts = generated_texts(20000);

    // Each (config, text) once, on a thread of its own: nothing is answered from memory.
    std::vector<std::vector<Found>> expected(configs.size());
    std::thread([&] {
        for (std::size_t c = 0; c < configs.size(); ++c)
            for (const auto& text : texts) expected[c].push_back(find(configs[c], text));
    }).join();
    std::size_t clean = 0, found = 0;
    for (const auto& per_config : expected)
        for (const auto& f : per_config) (f.empty() ? clean : found) += 1;
    ASSERT_GT(clean, 20000u);  // the memo is exercised
    ASSERT_GT(found, 4000u);   // and so are texts it must not answer for

    std::vector<std::size_t> order(texts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937 rng(16);
    for (int round = 0; round < 3; ++round) {
        std::shuffle(order.begin(), order.end(), rng);
        for (const std::size_t i : order)
            for (std::size_t c = 0; c < configs.size(); ++c)
                ASSERT_EQ(find(configs[c], texts[i]), expected[c][i])
                    << "round " << round << " config " << c << " text '" << texts[i] << "'";
    }
}

// A set's id is never reused: a text clean under a set that is gone, even if a new set takes its
// address, is looked at again.
TEST(CleanTextMemo, ANewSetIsNotAnsweredForByAGoneOne) {
    const std::string text = "EMP-123456";
    for (int i = 0; i < 20; ++i) {
        std::string error;
        {
            const auto without = RecognizerSet::compile({}, error);
            ASSERT_TRUE(without) << error;
            EXPECT_TRUE(find({without, all_of(*without)}, text).empty());
        }
        const auto with = RecognizerSet::compile({{"employee_id", R"(EMP-\d{6})"}}, error);
        ASSERT_TRUE(with) << error;
        EXPECT_EQ(find({with, all_of(*with)}, text).size(), 1u);
    }
}

}  // namespace
}  // namespace sluice::masking
