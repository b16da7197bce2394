// DAG helpers: orders, roots, downstream, and cycle detection on large graphs.
#include "jobs/graph.h"

#include <gtest/gtest.h>

namespace opfleet::jobs {
namespace {

using Keys = std::vector<std::string>;

OpDef op(std::string key, Keys deps = {}) {
  return OpDef{std::move(key), std::move(deps), SleepParams{1, 0}};
}

JobDef job(std::vector<OpDef> ops) {
  JobDef j;
  j.name = "g";
  j.ops = std::move(ops);
  return j;
}

TEST(Graph, TopologicalOrderPutsDependenciesFirstAndKeepsDefinitionOrder) {
  // Defined out of order on purpose: "load" first.
  const JobDef j = job({op("load", {"transform", "audit"}), op("extract"),
                        op("transform", {"extract"}), op("audit"), op("report", {"load"})});
  auto order = topological_order(j);
  ASSERT_TRUE(order) << order.error().message;
  EXPECT_EQ(*order, (Keys{"extract", "transform", "audit", "load", "report"}));
  EXPECT_EQ(roots(j), (Keys{"extract", "audit"}));
  EXPECT_EQ(downstream(j, "extract"), (Keys{"transform"}));
  EXPECT_EQ(downstream(j, "audit"), (Keys{"load"}));
  EXPECT_TRUE(downstream(j, "report").empty());
  EXPECT_TRUE(downstream(j, "no_such_op").empty());
  EXPECT_EQ(find_op(j, "audit")->key, "audit");
  EXPECT_EQ(find_op(j, "nope"), nullptr);
}

TEST(Graph, EveryOpComesAfterItsDependencies) {
  // A diamond lattice: op i depends on i-1 and i-2.
  std::vector<OpDef> ops;
  for (int i = 0; i < 50; ++i) {
    Keys deps;
    if (i >= 1) deps.push_back("n" + std::to_string(i - 1));
    if (i >= 2) deps.push_back("n" + std::to_string(i - 2));
    ops.push_back(op("n" + std::to_string(i), deps));
  }
  std::reverse(ops.begin(), ops.end());
  const JobDef j = job(ops);
  auto order = topological_order(j);
  ASSERT_TRUE(order);
  ASSERT_EQ(order->size(), 50u);
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < order->size(); ++i) pos[(*order)[i]] = i;
  for (const auto& o : j.ops) {
    for (const auto& d : o.depends_on) EXPECT_LT(pos[d], pos[o.key]) << d << " before " << o.key;
  }
}

TEST(Graph, LongChainWithABackEdgeIsACycleWithoutDeepRecursion) {
  std::vector<OpDef> ops;
  const int n = static_cast<int>(kMaxOpsPerJob);
  for (int i = 0; i < n; ++i) {
    ops.push_back(op("n" + std::to_string(i), i == 0 ? Keys{"n" + std::to_string(n - 1)}
                                                     : Keys{"n" + std::to_string(i - 1)}));
  }
  auto st = check_graph(job(ops));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("dependency cycle: n0 -> n999 -> n998"), std::string::npos)
      << st.error().message.substr(0, 200);
  EXPECT_FALSE(topological_order(job(ops)));
}

TEST(Graph, ErrorsNameTheJobAndOp) {
  auto unknown = check_graph(job({op("a", {"b"})}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "job 'g': op 'a' depends on unknown op 'b'");
  auto dup = check_graph(job({op("a"), op("a")}));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "job 'g': duplicate op key 'a'");
}

}  // namespace
}  // namespace opfleet::jobs
