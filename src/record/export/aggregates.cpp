// The bounded aggregates behind the export: latency histograms (error-message shapes are
// core::normalize_error_message, shared with the live error patterns).
#include <algorithm>
#include <cmath>

#include "record/export/dataset_export.hpp"

namespace bastion::record {
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
