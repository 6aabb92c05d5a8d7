// The two loops every BPE tokenizer here shares: greedy pair merging, and
// cutting added (special) tokens out of text before ordinary encoding.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace fhellm::tokenizer::detail {

// What merging two adjacent symbols gives, and how early it is applied.
template <typename Priority>
struct MergeChoice {
  Priority priority;
  TokenId merged;
};

// Greedy BPE over `symbols`, appended to `out` (which must not alias
// `symbols`). best_merge(a, b) -> std::optional<MergeChoice<Priority>> says
// whether the adjacent pair (a, b) merges, into what, and with what priority.
//
// Order: repeatedly apply the pair whose priority comes first under `Before`
// (std::less: lowest first, as merge ranks; std::greater: highest first, as
// scores); among equal priorities the leftmost pair (by original position)
// goes first. Priorities must be totally ordered (no NaN). Merging never
// reorders symbols, so a heap of candidates over a linked list finds the same
// merges as a quadratic rescan; candidates made stale by an earlier merge are
// skipped when popped.
template <typename Before = std::less<>, typename BestMerge>
void merge_bpe(std::span<const TokenId> symbols, BestMerge&& best_merge, std::vector<TokenId>& out) {
  const std::size_t n = symbols.size();
  if (n < 2) {
    out.insert(out.end(), symbols.begin(), symbols.end());
    return;
  }
  using Choice = std::decay_t<decltype(*best_merge(TokenId{}, TokenId{}))>;
  using Priority = decltype(Choice::priority);
  struct Node {
    TokenId id;  // -1 once merged into its left neighbour
    std::int64_t prev, next;  // -1 at the ends
  };
  std::vector<Node> nodes(n);
  for (std::size_t k = 0; k < n; ++k)
    nodes[k] = {symbols[k], static_cast<std::int64_t>(k) - 1, k + 1 < n ? static_cast<std::int64_t>(k + 1) : -1};
  struct Candidate {
    Priority priority;
    std::int64_t left, right;
    TokenId left_id, right_id, merged;
    // std::priority_queue keeps the greatest on top: "less" is "applied later".
    bool operator<(const Candidate& o) const {
      if (priority != o.priority) return Before{}(o.priority, priority);
      return left > o.left;
    }
  };
  std::priority_queue<Candidate> heap;
  const auto consider = [&](std::int64_t left) {
    if (left < 0) return;
    const std::int64_t right = nodes[static_cast<std::size_t>(left)].next;
    if (right < 0) return;
    const TokenId a = nodes[static_cast<std::size_t>(left)].id;
    const TokenId b = nodes[static_cast<std::size_t>(right)].id;
    const std::optional<Choice> choice = best_merge(a, b);
    if (!choice) return;
    heap.push({choice->priority, left, right, a, b, choice->merged});
  };
  for (std::size_t k = 0; k + 1 < n; ++k) consider(static_cast<std::int64_t>(k));
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Node& left = nodes[static_cast<std::size_t>(c.left)];
    if (left.id != c.left_id || left.next != c.right) continue;  // stale
    Node& right = nodes[static_cast<std::size_t>(c.right)];
    if (right.id != c.right_id) continue;
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) nodes[static_cast<std::size_t>(right.next)].prev = c.left;
    right.id = -1;
    consider(left.prev);
    consider(c.left);
  }
  for (std::int64_t k = 0; k >= 0; k = nodes[static_cast<std::size_t>(k)].next)
    out.push_back(nodes[static_cast<std::size_t>(k)].id);
}

// Cuts added tokens out of `text`, scanning left to right: at each position
// the first entry of `added_tokens` (ordered longest first, no empty content)
// that matches is taken. Calls on_text(segment) for the ordinary text before
// each match, even when empty, then on_token(token); and on_text once more for
// the rest after the last match (the whole text when nothing matches).
template <typename OnText, typename OnToken>
void split_on_added_tokens(std::string_view text, const std::vector<AddedToken>& added_tokens, OnText&& on_text,
                           OnToken&& on_token) {
  if (added_tokens.empty()) {
    on_text(text);
    return;
  }
  // Only positions whose byte starts some added token need the full check.
  std::array<bool, 256> starts{};
  for (const AddedToken& t : added_tokens) starts[static_cast<unsigned char>(t.content[0])] = true;
  std::size_t segment = 0;
  for (std::size_t i = 0; i < text.size();) {
    const AddedToken* match = nullptr;
    if (starts[static_cast<unsigned char>(text[i])]) {
      for (const AddedToken& t : added_tokens) {
        if (text.substr(i, t.content.size()) == t.content) {
          match = &t;
          break;
        }
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    on_text(text.substr(segment, i - segment));
    on_token(*match);
    i += match->content.size();
    segment = i;
  }
  on_text(text.substr(segment));
}

}  // namespace fhellm::tokenizer::detail
