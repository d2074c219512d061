#include "observe/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bastion::observe {

namespace {

bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Appends s with invalid UTF-8 replaced by U+FFFD, stopping before max_bytes would be exceeded
// (never in the middle of a character). Prometheus rejects label values that are not UTF-8, and
// upstream or tool names can come from untrusted agents.
std::string sanitize_label_value(std::string_view s, std::size_t max_bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0Fu;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07u;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0u) != 0x80u) ok = false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    // Overlong forms, surrogates and code points beyond U+10FFFF are invalid too.
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) {
      ok = false;
    }
    const std::string_view piece = ok ? s.substr(i, len) : replacement;
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += ok ? len : 1;
  }
  return out;
}

std::vector<std::string> sanitize_values(const std::string_view* values, std::size_t n, std::size_t max_bytes) {
  std::vector<std::string> key;
  key.reserve(n);
  for (std::size_t i = 0; i < n; ++i) key.push_back(sanitize_label_value(values[i], max_bytes));
  return key;
}

}  // namespace

std::string_view to_string(MetricType type) noexcept {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_name_start(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin() + 1, name.end(), [](char c) { return is_name_start(c) || is_digit(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin() + 1, name.end(), [](char c) { return is_name_start(c) || is_digit(c); });
}

const std::vector<double>& default_latency_buckets() {
  static const std::vector<double> buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0};
  return buckets;
}

// ---------------------------------------------------------------------------------------------
// Children

void Counter::add(double amount) noexcept {
  if (!(amount > 0.0)) return;  // also rejects NaN
  fraction_.fetch_add(amount, std::memory_order_relaxed);
}

double Counter::value() const noexcept {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) + fraction_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  // Buckets are "less than or equal": the first bound >= v; past the end is +Inf.
  const auto& b = *bounds_;
  const auto index = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) total += buckets_[i].load(std::memory_order_relaxed);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Families

namespace detail {
FamilyBase::FamilyBase(MetricType type, std::string name, std::string help, std::vector<std::string> label_names)
    : type_(type), name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
}  // namespace detail

template <class Child>
Family<Child>::Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                      std::shared_ptr<const std::vector<double>> bounds, const RegistryOptions& options,
                      Family<Counter>* overflow_family)
    : FamilyBase(type, std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)),
      max_children_(options.max_children_per_family),
      max_value_bytes_(options.max_label_value_bytes),
      overflow_family_(overflow_family) {
  // A family without labels has exactly one series, exported (as 0) from the start.
  if (FamilyBase::label_names().empty()) children_.emplace(std::vector<std::string>{}, make_child());
}

template <class Child>
std::unique_ptr<Child> Family<Child>::make_child() const {
  if constexpr (std::is_same_v<Child, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<Child>();
  }
}

template <class Child>
Child& Family<Child>::labels(std::initializer_list<std::string_view> values) {
  return labels_impl(values.begin(), values.size());
}

template <class Child>
Child& Family<Child>::labels(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return labels_impl(views.data(), views.size());
}

template <class Child>
Child& Family<Child>::labels_impl(const std::string_view* values, std::size_t n) {
  if (n != label_names().size()) {
    throw std::invalid_argument("metric " + name() + ": expected " + std::to_string(label_names().size()) +
                                " label values, got " + std::to_string(n));
  }
  auto key = sanitize_values(values, n, max_value_bytes_);
  std::lock_guard lock(mutex_);
  if (auto it = children_.find(key); it != children_.end()) return *it->second;
  const std::size_t regular = children_.size() - (overflow_child_ != nullptr ? 1 : 0);
  if (overflow_family_ == nullptr || regular < max_children_) {
    return *children_.emplace(std::move(key), make_child()).first->second;
  }
  if (overflow_child_ == nullptr) {
    std::vector<std::string> other(n, std::string(kOverflowLabelValue));
    auto it = children_.find(other);
    if (it == children_.end()) it = children_.emplace(std::move(other), make_child()).first;
    overflow_child_ = it->second.get();
  }
  // Lock order is always family -> overflow family; the overflow family has no overflow family.
  if (overflow_counter_ == nullptr) overflow_counter_ = &overflow_family_->labels({std::string_view(name())});
  overflow_counter_->inc();
  return *overflow_child_;
}

template <class Child>
const std::vector<double>& Family<Child>::bounds() const noexcept {
  static const std::vector<double> none;
  return bounds_ ? *bounds_ : none;
}

template <class Child>
std::size_t Family<Child>::size() const {
  std::lock_guard lock(mutex_);
  return children_.size();
}

template <class Child>
void Family<Child>::collect(FamilySnapshot& out) const {
  out.name = name();
  out.help = help();
  out.type = type();
  out.label_names = label_names();
  if (bounds_) out.bounds = *bounds_;
  std::lock_guard lock(mutex_);
  out.samples.reserve(children_.size());
  for (const auto& [values, child] : children_) {
    SampleSnapshot s;
    s.label_values = values;
    if constexpr (std::is_same_v<Child, Histogram>) {
      s.cumulative_counts = child->cumulative_counts();
      s.count = s.cumulative_counts.back();
      s.sum = child->sum();
    } else {
      s.value = child->value();
    }
    out.samples.push_back(std::move(s));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

class CallbackFamily final : public detail::FamilyBase {
 public:
  CallbackFamily(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                 CallbackFn fn, const RegistryOptions& options, CounterFamily* overflow_family)
      : FamilyBase(type, std::move(name), std::move(help), std::move(label_names)),
        max_children_(options.max_children_per_family),
        max_value_bytes_(options.max_label_value_bytes),
        overflow_family_(overflow_family),
        fn_(std::move(fn)) {}

  bool is_callback() const noexcept override { return true; }

  void replace(CallbackFn fn) {
    std::lock_guard lock(fn_mutex_);
    fn_ = std::move(fn);
  }

  // After this returns fn is not running and never runs again, so its captures may die.
  void retire() {
    std::lock_guard lock(fn_mutex_);
    retired_ = true;
    fn_ = nullptr;
  }

  void collect(FamilySnapshot& out) const override {
    out.name = name();
    out.help = help();
    out.type = type();
    out.label_names = label_names();
    std::vector<CallbackSample> raw;
    {
      std::lock_guard lock(fn_mutex_);
      if (retired_ || !fn_) return;
      try {
        raw = fn_();
      } catch (...) {
        raw.clear();  // a failing source must not break the whole scrape
      }
    }
    std::map<std::vector<std::string>, double> series;
    std::uint64_t dropped = 0;
    for (const auto& sample : raw) {
      if (sample.label_values.size() != label_names().size()) continue;
      std::vector<std::string_view> views(sample.label_values.begin(), sample.label_values.end());
      auto key = sanitize_values(views.data(), views.size(), max_value_bytes_);
      if (series.contains(key)) continue;
      if (series.size() >= max_children_) {
        ++dropped;
        continue;
      }
      series.emplace(std::move(key), sample.value);
    }
    if (dropped > 0 && overflow_family_ != nullptr) overflow_family_->labels({std::string_view(name())}).inc(dropped);
    out.samples.reserve(series.size());
    for (auto& [values, value] : series) {
      SampleSnapshot s;
      s.label_values = values;
      s.value = value;
      out.samples.push_back(std::move(s));
    }
  }

 private:
  std::size_t max_children_;
  std::size_t max_value_bytes_;
  CounterFamily* overflow_family_;
  mutable std::mutex fn_mutex_;  // serialises fn with replace/retire
  CallbackFn fn_;
  bool retired_ = false;
};

std::vector<double> validated_bounds(const std::string& name, std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) throw std::invalid_argument("histogram " + name + ": bucket bounds must be finite");
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      throw std::invalid_argument("histogram " + name + ": bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

std::vector<std::string> sample_names_of(MetricType type, const std::string& name) {
  if (type == MetricType::histogram) return {name + "_bucket", name + "_sum", name + "_count"};
  return {name};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Registry

Registry::Registry(RegistryOptions options) : options_(options) {
  overflow_family_ = &register_family<Counter>(MetricType::counter, std::string(kLabelOverflowMetric),
                                               "Label sets that exceeded a family's cardinality cap and were "
                                               "recorded in its \"_other\" series.",
                                               {"family"}, {});
}

Registry::~Registry() = default;

void Registry::check_names(MetricType type, const std::string& name, const std::vector<std::string>& label_names) const {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name: \"" + name + "\"");
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& label = label_names[i];
    if (!valid_label_name(label)) throw std::invalid_argument("metric " + name + ": invalid label name \"" + label + "\"");
    if (type == MetricType::histogram && label == "le") {
      throw std::invalid_argument("histogram " + name + ": label \"le\" is reserved");
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i), label) !=
        label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metric " + name + ": duplicate label \"" + label + "\"");
    }
  }
  for (const auto& sample_name : sample_names_of(type, name)) {
    if (sample_names_.contains(sample_name) || (sample_name != name && families_.contains(sample_name))) {
      throw std::invalid_argument("metric " + name + ": series name " + sample_name + " is already in use");
    }
  }
}

void Registry::take_sample_names(MetricType type, const std::string& name) {
  for (auto& sample_name : sample_names_of(type, name)) sample_names_.insert(std::move(sample_name));
}

template <class Child>
Family<Child>& Registry::register_family(MetricType type, std::string name, std::string help,
                                         std::vector<std::string> label_names, std::vector<double> bounds) {
  if (type == MetricType::histogram) bounds = validated_bounds(name, std::move(bounds));
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<Family<Child>*>(it->second.get());
    if (existing != nullptr && existing->type() == type && existing->label_names() == label_names &&
        (type != MetricType::histogram || existing->bounds() == bounds)) {
      return *existing;
    }
    throw std::invalid_argument("metric " + name + " is already registered with a different type, labels or buckets");
  }
  check_names(type, name, label_names);
  std::shared_ptr<const std::vector<double>> shared_bounds;
  if (type == MetricType::histogram) shared_bounds = std::make_shared<const std::vector<double>>(std::move(bounds));
  std::shared_ptr<Family<Child>> family(new Family<Child>(type, name, std::move(help), std::move(label_names),
                                                          std::move(shared_bounds), options_, overflow_family_));
  take_sample_names(type, name);
  families_.emplace(std::move(name), family);
  return *family;
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return register_family<Counter>(MetricType::counter, std::move(name), std::move(help), std::move(label_names), {});
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return register_family<Gauge>(MetricType::gauge, std::move(name), std::move(help), std::move(label_names), {});
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  return register_family<Histogram>(MetricType::histogram, std::move(name), std::move(help), std::move(label_names),
                                    std::move(bounds));
}

void Registry::register_callback(MetricType type, std::string name, std::string help,
                                 std::vector<std::string> label_names, CallbackFn fn) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<CallbackFamily*>(it->second.get());
    if (existing != nullptr && existing->type() == type && existing->label_names() == label_names) {
      existing->replace(std::move(fn));
      return;
    }
    throw std::invalid_argument("metric " + name + " is already registered with a different type or labels");
  }
  check_names(type, name, label_names);
  auto family = std::make_shared<CallbackFamily>(type, name, std::move(help), std::move(label_names), std::move(fn),
                                                 options_, overflow_family_);
  take_sample_names(type, name);
  families_.emplace(std::move(name), std::move(family));
}

void Registry::callback_counter(std::string name, std::string help, std::vector<std::string> label_names,
                                CallbackFn fn) {
  register_callback(MetricType::counter, std::move(name), std::move(help), std::move(label_names), std::move(fn));
}

void Registry::callback_gauge(std::string name, std::string help, std::vector<std::string> label_names,
                              CallbackFn fn) {
  register_callback(MetricType::gauge, std::move(name), std::move(help), std::move(label_names), std::move(fn));
}

namespace {
CallbackFn unlabelled(std::function<double()> fn) {
  return [fn = std::move(fn)] { return std::vector<CallbackSample>{CallbackSample{{}, fn()}}; };
}
}  // namespace

void Registry::callback_counter(std::string name, std::string help, std::function<double()> fn) {
  callback_counter(std::move(name), std::move(help), {}, unlabelled(std::move(fn)));
}

void Registry::callback_gauge(std::string name, std::string help, std::function<double()> fn) {
  callback_gauge(std::move(name), std::move(help), {}, unlabelled(std::move(fn)));
}

bool Registry::remove_callback(std::string_view name) {
  std::shared_ptr<detail::FamilyBase> removed;
  {
    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    if (it == families_.end() || !it->second->is_callback()) return false;
    removed = it->second;
    for (const auto& sample_name : sample_names_of(removed->type(), removed->name())) sample_names_.erase(sample_name);
    families_.erase(it);
  }
  // Outside the registry lock: waits for a scrape that is running fn right now.
  static_cast<CallbackFamily*>(removed.get())->retire();
  return true;
}

std::vector<FamilySnapshot> Registry::collect() const {
  std::vector<std::shared_ptr<detail::FamilyBase>> families;
  {
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const auto& entry : families_) families.push_back(entry.second);
  }
  std::vector<FamilySnapshot> out(families.size());
  for (std::size_t i = 0; i < families.size(); ++i) families[i]->collect(out[i]);
  return out;
}

std::size_t Registry::family_count() const {
  std::lock_guard lock(mutex_);
  return families_.size();
}

}  // namespace bastion::observe
