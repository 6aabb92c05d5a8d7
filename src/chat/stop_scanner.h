// StopScanner: finds stop strings (--stop, OpenAI's `stop`) in text that
// arrives a piece at a time, and says which text may be shown now: text that
// could still be the start of a stop string is held back until the next
// piece decides. After a stop, nothing more is released; the stop string
// itself is never released.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fhellm::chat {

class StopScanner {
 public:
  // Empty strings in `stops` are ignored.
  explicit StopScanner(std::vector<std::string> stops = {});

  // Adds a piece of text (whole UTF-8 characters); returns what can be shown now.
  std::string push(std::string_view piece);
  // True once a stop string has appeared.
  bool stopped() const { return !matched_.empty(); }
  // The stop string that appeared ("" before).
  const std::string& matched() const { return matched_; }
  // At the end of the generation: the text held back (none after a stop).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::string matched_;
};

}  // namespace fhellm::chat
