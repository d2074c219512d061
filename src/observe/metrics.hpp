#pragma once
// A small Prometheus-style metrics registry: counter, gauge and histogram families with fixed label
// names, plus callback families evaluated at scrape time. Instrumentation only; the text encoder
// lives in prometheus_text.hpp.
//
// Threading: every method is thread-safe. The hot path (Counter::inc, Gauge::set, Histogram::observe)
// is a handful of relaxed atomics and takes no lock. Family::labels() takes the family's mutex and
// allocates: call it rarely and keep the returned reference (children are never destroyed while the
// Registry lives).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::observe {

enum class MetricType { counter, gauge, histogram };

std::string_view to_string(MetricType type) noexcept;

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) noexcept;
// [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (reserved by Prometheus).
bool valid_label_name(std::string_view name) noexcept;

// 0.5 ms .. 30 s, for request and tool-call latencies in seconds.
const std::vector<double>& default_latency_buckets();

struct RegistryOptions {
  // Children per family before new label sets fall into the single "_other" child.
  std::size_t max_children_per_family = 1000;
  // Longer label values are cut (at a UTF-8 boundary); invalid UTF-8 becomes U+FFFD.
  std::size_t max_label_value_bytes = 256;
};

// Label values shared by every label set beyond the cardinality cap.
inline constexpr std::string_view kOverflowLabelValue = "_other";
// Counts lookups that fell into a family's overflow child, by family name.
inline constexpr std::string_view kLabelOverflowMetric = "bastion_metrics_label_overflow_total";

// Monotonic counter. inc() is a single relaxed fetch_add on an integer; add() accepts fractions.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc(std::uint64_t n = 1) noexcept { whole_.fetch_add(n, std::memory_order_relaxed); }
  // Negative and NaN amounts are ignored: a counter never goes down.
  void add(double amount) noexcept;
  double value() const noexcept;

 private:
  std::atomic<std::uint64_t> whole_{0};
  std::atomic<double> fraction_{0.0};
};

class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Fixed-bucket histogram. observe() is a search over the (small) bound list plus two relaxed atomics.
class Histogram {
 public:
  // bounds: non-null, strictly increasing finite upper bounds without +Inf (the Registry validates
  // them; a hand-made Histogram must get them right).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN is ignored (it would poison _sum forever).
  void observe(double v) noexcept;

  const std::vector<double>& bounds() const noexcept { return *bounds_; }
  // Cumulative counts, one per bound plus the +Inf bucket; the last equals count().
  std::vector<std::uint64_t> cumulative_counts() const;
  std::uint64_t count() const noexcept;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, bounds + 1
  std::atomic<double> sum_{0.0};
};

// A point-in-time copy of one family, the input of every output format.
struct SampleSnapshot {
  std::vector<std::string> label_values;  // parallel to FamilySnapshot::label_names
  double value = 0.0;                     // counter, gauge
  std::vector<std::uint64_t> cumulative_counts;  // histogram: bounds.size() + 1 (+Inf last)
  double sum = 0.0;                              // histogram
  std::uint64_t count = 0;                       // histogram (== cumulative_counts.back())
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::counter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;            // histogram upper bounds without +Inf
  std::vector<SampleSnapshot> samples;   // sorted by label values
};

// One series produced by a callback family at scrape time.
struct CallbackSample {
  std::vector<std::string> label_values;
  double value = 0.0;
};
// Runs on the scraping thread without registry locks held; must be thread-safe and quick. An
// exception yields no samples for that scrape.
using CallbackFn = std::function<std::vector<CallbackSample>()>;

class Registry;

namespace detail {
class FamilyBase {
 public:
  FamilyBase(MetricType type, std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  MetricType type() const noexcept { return type_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  virtual void collect(FamilySnapshot& out) const = 0;
  virtual bool is_callback() const noexcept { return false; }

 private:
  MetricType type_;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};
}  // namespace detail

// Children of one metric, one per label-value tuple. Obtained from Registry::counter/gauge/histogram.
template <class Child>
class Family final : public detail::FamilyBase {
 public:
  // The child for these label values (created on first use). Values are given in label-name order;
  // a wrong count is a programming error and throws std::invalid_argument. Beyond the cardinality
  // cap, new label sets share the overflow child whose values are all "_other".
  Child& labels(std::initializer_list<std::string_view> values);
  Child& labels(const std::vector<std::string>& values);
  // The only child of a family without labels (throws std::invalid_argument if it has labels).
  Child& get() { return labels({}); }

  // Children currently present, including the overflow child.
  std::size_t size() const;
  // Histogram upper bounds without +Inf; empty for counters and gauges.
  const std::vector<double>& bounds() const noexcept;

  void collect(FamilySnapshot& out) const override;

 private:
  friend class Registry;
  Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
         std::shared_ptr<const std::vector<double>> bounds, const RegistryOptions& options,
         Family<Counter>* overflow_family);
  Child& labels_impl(const std::string_view* values, std::size_t n);
  std::unique_ptr<Child> make_child() const;

  std::shared_ptr<const std::vector<double>> bounds_;
  std::size_t max_children_;
  std::size_t max_value_bytes_;
  Family<Counter>* overflow_family_;  // null for the overflow family itself

  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
  Child* overflow_child_ = nullptr;
  Counter* overflow_counter_ = nullptr;  // this family's series in overflow_family_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns every family. It must outlive every reference handed out (create it first, destroy it last).
// Registration validates names and throws std::invalid_argument on an invalid name, a reserved or
// duplicate label, bad bucket bounds, or a name (or a histogram's _bucket/_sum/_count) that clashes
// with a different registration. Registering the same name again with the same type, labels and
// bounds returns the existing family, so modules may register lazily.
class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // bounds: finite and strictly increasing; a trailing +Inf is accepted and dropped.
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> label_names = {},
                             std::vector<double> bounds = default_latency_buckets());

  // Callback families: fn is evaluated at each collect(). Samples with the wrong label count are
  // dropped; duplicate label sets keep the first; beyond the cardinality cap samples are dropped
  // and counted in bastion_metrics_label_overflow_total. Re-registering a callback name replaces fn.
  void callback_counter(std::string name, std::string help, std::vector<std::string> label_names, CallbackFn fn);
  void callback_gauge(std::string name, std::string help, std::vector<std::string> label_names, CallbackFn fn);
  // Unlabelled shorthands.
  void callback_counter(std::string name, std::string help, std::function<double()> fn);
  void callback_gauge(std::string name, std::string help, std::function<double()> fn);
  // Removes a callback family (e.g. before the object its fn points into dies). Only callback
  // families can be removed: children of the others are referenced by callers.
  bool remove_callback(std::string_view name);

  // Snapshot of every family, sorted by name; callbacks run here, outside the registry lock.
  std::vector<FamilySnapshot> collect() const;
  std::size_t family_count() const;
  const RegistryOptions& options() const noexcept { return options_; }

 private:
  template <class Child>
  Family<Child>& register_family(MetricType type, std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds);
  void register_callback(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                         CallbackFn fn);
  void check_names(MetricType type, const std::string& name, const std::vector<std::string>& label_names) const;
  void take_sample_names(MetricType type, const std::string& name);

  RegistryOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<detail::FamilyBase>, std::less<>> families_;
  std::set<std::string, std::less<>> sample_names_;  // every series name in use, incl. _bucket/_sum/_count
  CounterFamily* overflow_family_ = nullptr;
};

}  // namespace bastion::observe
