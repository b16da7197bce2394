#include "jobs/graph.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

namespace opfleet::jobs {

namespace {

using Index = std::unordered_map<std::string_view, std::size_t>;

Error graph_error(const JobDef& job, std::string message) {
  return Error::invalid(fmt::format("job '{}': {}", job.name, message));
}

// Key -> position; fails on a duplicate key.
Result<Index> index_ops(const JobDef& job) {
  Index index;
  for (std::size_t i = 0; i < job.ops.size(); ++i) {
    if (!index.emplace(job.ops[i].key, i).second) {
      return fail(graph_error(job, fmt::format("duplicate op key '{}'", job.ops[i].key)));
    }
  }
  return index;
}

Status check_edges(const JobDef& job, const Index& index) {
  for (const OpDef& op : job.ops) {
    std::unordered_set<std::string_view> seen;
    for (const std::string& dep : op.depends_on) {
      if (dep == op.key) {
        return fail(graph_error(job, fmt::format("op '{}' depends on itself", op.key)));
      }
      if (!index.contains(dep)) {
        return fail(
            graph_error(job, fmt::format("op '{}' depends on unknown op '{}'", op.key, dep)));
      }
      if (!seen.insert(dep).second) {
        return fail(
            graph_error(job, fmt::format("op '{}' lists dependency '{}' twice", op.key, dep)));
      }
    }
  }
  return ok();
}

// Depth-first search for a cycle; on finding one, spells it from the stack.
Status check_acyclic(const JobDef& job, const Index& index) {
  enum class Mark { kNew, kOnStack, kDone };
  std::vector<Mark> mark(job.ops.size(), Mark::kNew);
  std::vector<std::size_t> stack;  // the current path
  // Iterative, so a long chain of ops cannot overflow the call stack.
  struct Frame {
    std::size_t op;
    std::size_t next_dep;
  };
  for (std::size_t start = 0; start < job.ops.size(); ++start) {
    if (mark[start] != Mark::kNew) continue;
    std::vector<Frame> frames{{start, 0}};
    mark[start] = Mark::kOnStack;
    stack.assign(1, start);
    while (!frames.empty()) {
      Frame& f = frames.back();
      const auto& deps = job.ops[f.op].depends_on;
      if (f.next_dep == deps.size()) {
        mark[f.op] = Mark::kDone;
        frames.pop_back();
        stack.pop_back();
        continue;
      }
      const std::size_t dep = index.at(deps[f.next_dep++]);
      if (mark[dep] == Mark::kOnStack) {
        auto from = std::find(stack.begin(), stack.end(), dep);
        std::string path;
        for (auto it = from; it != stack.end(); ++it) path += job.ops[*it].key + " -> ";
        path += job.ops[dep].key;
        return fail(graph_error(
            job, fmt::format("dependency cycle: {} (each op depends on the next)", path)));
      }
      if (mark[dep] == Mark::kNew) {
        mark[dep] = Mark::kOnStack;
        stack.push_back(dep);
        frames.push_back({dep, 0});
      }
    }
  }
  return ok();
}

}  // namespace

const OpDef* find_op(const JobDef& job, std::string_view key) {
  for (const OpDef& op : job.ops) {
    if (op.key == key) return &op;
  }
  return nullptr;
}

Status check_graph(const JobDef& job) {
  OPFLEET_TRY(auto index, index_ops(job));
  OPFLEET_TRY_STATUS(check_edges(job, index));
  return check_acyclic(job, index);
}

std::vector<std::string> roots(const JobDef& job) {
  std::vector<std::string> out;
  for (const OpDef& op : job.ops) {
    if (op.depends_on.empty()) out.push_back(op.key);
  }
  return out;
}

std::vector<std::string> downstream(const JobDef& job, std::string_view key) {
  std::vector<std::string> out;
  for (const OpDef& op : job.ops) {
    if (std::find(op.depends_on.begin(), op.depends_on.end(), key) != op.depends_on.end()) {
      out.push_back(op.key);
    }
  }
  return out;
}

Result<std::vector<std::string>> topological_order(const JobDef& job) {
  OPFLEET_TRY_STATUS(check_graph(job));
  OPFLEET_TRY(auto index, index_ops(job));
  // Kahn's algorithm, taking the first ready op in definition order each round.
  std::vector<std::size_t> missing(job.ops.size());
  std::vector<std::vector<std::size_t>> dependents(job.ops.size());
  for (std::size_t i = 0; i < job.ops.size(); ++i) {
    missing[i] = job.ops[i].depends_on.size();
    for (const auto& dep : job.ops[i].depends_on) dependents[index.at(dep)].push_back(i);
  }
  std::vector<bool> placed(job.ops.size(), false);
  std::vector<std::string> order;
  order.reserve(job.ops.size());
  while (order.size() < job.ops.size()) {
    std::size_t next = job.ops.size();
    for (std::size_t i = 0; i < job.ops.size(); ++i) {
      if (!placed[i] && missing[i] == 0) {
        next = i;
        break;
      }
    }
    if (next == job.ops.size()) break;  // unreachable: check_graph found no cycle
    placed[next] = true;
    order.push_back(job.ops[next].key);
    for (std::size_t d : dependents[next]) --missing[d];
  }
  return order;
}

}  // namespace opfleet::jobs
