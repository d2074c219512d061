// The bounded aggregates behind the export: error-message shapes and latency histograms.
#include <algorithm>
#include <cmath>

#include "record/export/dataset_export.hpp"

namespace bastion::record {
namespace {

constexpr std::size_t kMaxPatternBytes = 200;

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// End (one past the closing quote) of a quoted string opening at s[i], or npos.
std::size_t quote_end(std::string_view s, std::size_t i) {
  char q = s[i];
  if (q == '\'') {
    // An apostrophe inside a word ("can't") opens nothing.
    if (i > 0 && is_alnum(s[i - 1])) return std::string_view::npos;
  }
  for (std::size_t k = i + 1; k < s.size(); ++k) {
    if (s[k] == '\\' && q != '\'') {
      ++k;
      continue;
    }
    if (s[k] == q) {
      if (q == '\'' && k + 1 < s.size() && is_alnum(s[k + 1])) continue;  // "'s" etc.
      return k + 1;
    }
  }
  return std::string_view::npos;
}

// Request ids, hashes, UUIDs: long hex runs with both digits and letters, or long mixed tokens
// with several of each.
bool id_like(std::string_view t) {
  std::size_t digits = 0, letters = 0, hex_letters = 0;
  bool hex_only = true;
  for (char c : t) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c >= 'a' && c <= 'z') {
      ++letters;
      if (c <= 'f') ++hex_letters; else hex_only = false;
    } else if (c != '-') {
      hex_only = false;
    }
  }
  if (hex_only && t.size() >= 8 && digits > 0 && hex_letters > 0) return true;
  return t.size() >= 16 && digits >= 3 && letters >= 3;
}

}  // namespace

std::string normalize_error_message(std::string_view message) {
  // Pass 1: lower-case ASCII, quoted strings -> <str>.
  std::string lowered;
  lowered.reserve(std::min<std::size_t>(message.size(), 4096));
  for (std::size_t i = 0; i < message.size() && lowered.size() < 4 * kMaxPatternBytes;) {
    char c = message[i];
    if (c == '"' || c == '\'' || c == '`') {
      std::size_t end = quote_end(message, i);
      if (end != std::string_view::npos) {
        lowered += "<str>";
        i = end;
        continue;
      }
    }
    lowered += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    ++i;
  }
  // Pass 2: word tokens -> <id> or with digit runs as '#'; whitespace collapsed.
  std::string out;
  out.reserve(lowered.size());
  std::size_t i = 0;
  while (i < lowered.size()) {
    char c = lowered[i];
    if (is_space(c)) {
      while (i < lowered.size() && is_space(lowered[i])) ++i;
      if (!out.empty()) out += ' ';
      continue;
    }
    if (!is_word(c)) {
      out += c;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < lowered.size() && is_word(lowered[j])) ++j;
    std::string_view token(lowered.data() + i, j - i);
    if (id_like(token)) {
      out += "<id>";
    } else {
      for (std::size_t k = 0; k < token.size(); ++k) {
        bool digit = token[k] >= '0' && token[k] <= '9';
        if (!digit) {
          out += token[k];
        } else if (k == 0 || !(token[k - 1] >= '0' && token[k - 1] <= '9')) {
          out += '#';
        }
      }
    }
    i = j;
  }
  if (out.size() > kMaxPatternBytes) {
    std::size_t cut = kMaxPatternBytes;
    // Never split a UTF-8 sequence: back off over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {
// Buckets grow by 2%, so a bucket's middle is within 1% of every value in it.
constexpr double kGamma = 1.02;
const double kLogGamma = std::log(kGamma);
constexpr double kMinMs = 1e-3;  // below: the "zero" bucket
constexpr double kMaxMs = 1e10;  // above: clamped (about 115 days)

int bucket_of(double ms) {
  return static_cast<int>(std::ceil(std::log(std::min(ms, kMaxMs)) / kLogGamma));
}
double bucket_middle(int index) {
  // Bucket i holds (gamma^(i-1), gamma^i]; this is the point with equal relative error to both ends.
  return 2 * std::pow(kGamma, index) / (kGamma + 1);
}
}  // namespace

void LatencyHistogram::add(double ms) {
  if (!(ms >= 0)) ms = 0;  // NaN and negatives count as instant
  if (count_ == 0) {
    min_ = max_ = ms;
  } else {
    min_ = std::min(min_, ms);
    max_ = std::max(max_, ms);
  }
  ++count_;
  if (ms <= kMinMs) {
    ++zeros_;
    return;
  }
  int b = bucket_of(ms);
  if (counts_.empty()) {
    first_ = b;
    counts_.assign(1, 0);
  } else if (b < first_) {
    counts_.insert(counts_.begin(), static_cast<std::size_t>(first_ - b), 0);
    first_ = b;
  } else if (b >= first_ + static_cast<int>(counts_.size())) {
    counts_.resize(static_cast<std::size_t>(b - first_ + 1), 0);
  }
  ++counts_[static_cast<std::size_t>(b - first_)];
}

double LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  // The extremes are known exactly.
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  if (rank <= zeros_) return min_;
  std::uint64_t seen = zeros_;
  for (std::size_t k = 0; k < counts_.size(); ++k) {
    seen += counts_[k];
    if (seen >= rank) {
      return std::clamp(bucket_middle(first_ + static_cast<int>(k)), min_, max_);
    }
  }
  return max_;
}

}  // namespace bastion::record
