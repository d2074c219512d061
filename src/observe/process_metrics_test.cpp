#include "observe/process_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "observe/proc_stat.hpp"
#include "observe/prometheus_text.hpp"

namespace bastion::observe {
namespace {

TEST(ProcStat, ParsesCommWithSpacesAndParentheses) {
  const std::string text =
      "4242 (evil) (name x) S 1 4240 4240 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 1 0 98765 123456789 2048 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  const auto stat = parse_proc_stat(text);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->pgrp, 4240);
  EXPECT_EQ(stat->utime_ticks, 150u);
  EXPECT_EQ(stat->stime_ticks, 25u);
  EXPECT_EQ(stat->starttime_ticks, 98765u);
  EXPECT_EQ(stat->vsize_bytes, 123456789u);
  EXPECT_EQ(stat->rss_pages, 2048);
}

TEST(ProcStat, RejectsTruncatedOrGarbage) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("no parens at all"));
  EXPECT_FALSE(parse_proc_stat("x (y) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 6 7\n"));
  EXPECT_FALSE(parse_proc_stat("1 (y) S 1 1 1 0 -1 0 0 0 0 0 one 1 0 0 20 0 1 0 5 6 7\n"));
}

TEST(ProcStat, BootTime) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000u);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
  EXPECT_FALSE(parse_boot_time("btime abc\n"));
}

TEST(ProcessMetrics, SnapshotIsPlausible) {
  const auto snapshot = read_process_snapshot();
  ASSERT_TRUE(snapshot);
  EXPECT_GT(snapshot->resident_memory_bytes, 0);
  EXPECT_GE(snapshot->virtual_memory_bytes, snapshot->resident_memory_bytes);
  EXPECT_GE(snapshot->open_fds, 3);  // stdin, stdout, stderr at least
  EXPECT_GE(snapshot->max_fds, snapshot->open_fds);
  EXPECT_GE(snapshot->cpu_seconds, 0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Started within the last hour; btime is whole seconds, hence the small slack into the future.
  EXPECT_LE(snapshot->start_time_seconds, now + 2);
  EXPECT_GT(snapshot->start_time_seconds, now - 3600);
}

TEST(ProcessMetrics, OpenFdsFollowsOpenedDescriptors) {
  const auto before = read_process_snapshot();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const auto after = read_process_snapshot();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->open_fds, before->open_fds + 2);
}

TEST(ProcessMetrics, RegisteredAsCallbacks) {
  Registry r;
  register_process_metrics(r);
  register_process_metrics(r);  // idempotent
  const auto families = r.collect();
  const std::vector<std::pair<std::string, MetricType>> expected{
      {"process_cpu_seconds_total", MetricType::counter},  {"process_max_fds", MetricType::gauge},
      {"process_open_fds", MetricType::gauge},             {"process_resident_memory_bytes", MetricType::gauge},
      {"process_start_time_seconds", MetricType::gauge},   {"process_virtual_memory_bytes", MetricType::gauge}};
  for (const auto& [name, type] : expected) {
    const FamilySnapshot* found = nullptr;
    for (const auto& f : families) {
      if (f.name == name) found = &f;
    }
    ASSERT_NE(found, nullptr) << name;
    EXPECT_EQ(found->type, type) << name;
    ASSERT_EQ(found->samples.size(), 1u) << name;
    EXPECT_GE(found->samples[0].value, 0) << name;
  }
  const auto text = render(r);
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "), std::string::npos);
}

}  // namespace
}  // namespace bastion::observe
