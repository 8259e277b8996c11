// Batched scoring for RDataFrame: a first pass fills a score table, many events per model
// call; the score column then reads the table in the analysis' own loop.
//
//   auto model = std::make_shared<const hepsift::Model>("model.onnx");
//   auto scored = hepsift::DefineBatched<float, float>(df, "score", model, {"a", "b"}, 4096);
//   // scored.Histo1D("score"), Filter("score > 0.9"), Snapshot(...) as usual
//
// Why two passes: an RDataFrame Define must return the value of the current entry at once,
// so events cannot be held back to fill a batch in the same loop. The first pass (a
// ForeachSlot over the same graph, so upstream Filters, Range, Defines/expressions, TChains
// and RNTuple sources behave as in the analysis) buffers inputs per slot and evaluates them
// `batchSize` at a time. Scores are keyed by (task, position in task): a task is one
// sample range processed by one slot (RSampleInfo: file, tree and entry range), identical in
// every event loop over the same graph, and the position counts the entries reaching the
// score node within the task. (rdfentry_ is not a usable key: under ImplicitMT over several
// files it depends on the order in which files are opened, and differs between loops.) A
// pass-through Filter node named "hepsift" advances the position; a DefinePerSample callback
// resets it at each task (detail::countTaskEntries, shared with hepsift/Stream.hxx). The score
// column is read from the table by the slot's current key.
// hepsift/Stream.hxx (DefineStreamed) needs one loop and no table where it applies: on the
// RDataFrame itself, with TTree branches as inputs.
// Cost: the inputs are read twice when the analysis reads them too; the table holds
// nScores floats per scored entry (4 bytes per event for one score). The per-event Scorer
// needs no table and no extra pass.
#ifndef HEPSIFT_BATCH_HXX
#define HEPSIFT_BATCH_HXX

#include "hepsift/Scorer.hxx"

#include <ROOT/RDataFrame.hxx>

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>

namespace hepsift {

/// Scores of one event loop, keyed by (task, position within the task).
class ScoreTable {
public:
   struct Task {
      std::string sample;
      std::pair<ULong64_t, ULong64_t> range;
      std::vector<float> scores; // nScores per entry, in processing order
      std::vector<unsigned char> filled;
   };

   explicit ScoreTable(std::size_t nScores) : fNScores(nScores) {}

   /// The task of this sample range (created on first sight). Called once per task and slot.
   Task *task(const ROOT::RDF::RSampleInfo &info)
   {
      std::lock_guard<std::mutex> lock(fMutex);
      auto key = std::make_pair(info.AsString(), info.EntryRange());
      auto it = fIndex.find(key);
      if (it != fIndex.end())
         return it->second;
      fTasks.push_back(std::make_unique<Task>(Task{key.first, key.second, {}, {}}));
      fIndex.emplace(key, fTasks.back().get());
      return fTasks.back().get();
   }

   /// Stores the scores of entry `k` of `task` (only the slot processing the task calls this).
   void store(Task *task, std::size_t k, const float *scores)
   {
      if ((k + 1) * fNScores > task->scores.size()) {
         std::size_t want = std::max<std::size_t>((k + 1) * fNScores, task->scores.size() * 3 / 2 + 64 * fNScores);
         task->scores.resize(want, std::numeric_limits<float>::quiet_NaN());
         task->filled.resize(want / fNScores, 0);
      }
      std::copy(scores, scores + fNScores, task->scores.begin() + k * fNScores);
      task->filled[k] = 1;
      fCount.fetch_add(1, std::memory_order_relaxed);
   }

   /// The nScores() scores of entry `k` of `task`; throws if the first pass did not score it.
   const float *at(const Task *task, std::size_t k) const
   {
      if (!task || k >= task->filled.size() || !task->filled[k])
         throw EvaluationError("hepsift: the batched first pass did not score entry " + std::to_string(k) +
                               " of " + (task ? task->sample : std::string("an unknown sample")) +
                               "; the data frame graph upstream of the score must not change between the "
                               "passes (define the score after changing it)");
      return task->scores.data() + k * fNScores;
   }

   std::size_t nScores() const { return fNScores; }
   std::size_t size() const { return fCount.load(); }

private:
   std::size_t fNScores;
   std::vector<std::unique_ptr<Task>> fTasks;
   std::map<std::pair<std::string, std::pair<ULong64_t, ULong64_t>>, Task *> fIndex;
   std::atomic<std::size_t> fCount{0};
   std::mutex fMutex;
};

namespace detail {

/// Element `s` of per-slot state, with a clear error for a slot that was not prepared.
template <typename T>
T &slotAt(std::vector<T> &slots, unsigned s)
{
   if (s >= slots.size())
      throw EvaluationError("hepsift: slot " + std::to_string(s) + " but only " + std::to_string(slots.size()) +
                            " slots were prepared for the batched score");
   return slots[s];
}

/// The task counting of the batched scores (here and in hepsift/Stream.hxx): `onTask(slot,
/// info)` runs when a slot starts a task (RSampleInfo: file, tree, entry range; called by
/// RDataFrame at every task whether or not the column is read), and a pass-through Filter named
/// "hepsift" sets `position(slot).current` to the position of the entry within its task.
/// `position(slot)` returns the slot's state, with members `next` and `current`.
template <typename OnTask, typename Position>
ROOT::RDF::RNode countTaskEntries(ROOT::RDF::RNode df, std::string_view name, OnTask onTask, Position position)
{
   return df
      .DefinePerSample("__hepsift_task_" + std::string(name),
                       [onTask, position](unsigned slot, const ROOT::RDF::RSampleInfo &info) {
                          position(slot).next = 0;
                          onTask(slot, info);
                          return static_cast<ULong64_t>(info.EntryRange().first);
                       })
      .Filter(
         [position](unsigned slot) {
            auto &where = position(slot);
            where.current = where.next++;
            return true;
         },
         {"rdfslot_"}, "hepsift");
}

/// Defines column `name` from `scores(slot, entry)` (nScores floats of the current entry; entry:
/// rdfentry_): float for
/// one score, ROOT::RVec<float> otherwise.
template <typename Scores>
ROOT::RDF::RNode defineScores(ROOT::RDF::RNode node, std::string_view name, std::size_t nScores, Scores scores)
{
   if (nScores == 1)
      return node.DefineSlotEntry(name, [scores](unsigned slot, ULong64_t entry) { return *scores(slot, entry); });
   return node.DefineSlotEntry(name, [scores, nScores](unsigned slot, ULong64_t entry) {
      const float *p = scores(slot, entry);
      return ROOT::VecOps::RVec<float>(p, p + nScores);
   });
}

/// Per-slot position (task, k) of the entry being processed, shared by the nodes of one
/// batched score: the task callback, the counting Filter, the collector and the lookup.
struct BatchCursor {
   struct Slot {
      ScoreTable::Task *task = nullptr;
      std::size_t next = 0;    // position of the next entry in the task
      std::size_t current = 0; // position of the entry being processed
   };
   std::shared_ptr<ScoreTable> table;
   std::vector<Slot> slots;

   Slot &slot(unsigned s) { return slotAt(slots, s); }
};

} // namespace detail

/// First pass: a ForeachSlot callable over (slot, inputs...) that fills the table.
template <typename... Cols>
class BatchCollector {
   static_assert(detail::isVectorInput<Cols...>() || (std::is_arithmetic_v<std::decay_t<Cols>> && ...),
                 "hepsift::BatchCollector columns must be arithmetic or a single ROOT::RVec column");

   struct Slot {
      Workspace ws;
      std::vector<std::pair<ScoreTable::Task *, std::size_t>> keys;
      std::size_t n = 0;
   };
   struct State {
      detail::ScorerState core; // model, columns, options
      std::shared_ptr<detail::BatchCursor> cursor;
      std::vector<Slot> slots;
   };

public:
   BatchCollector(std::shared_ptr<const Model> model, std::shared_ptr<detail::BatchCursor> cursor,
                  std::vector<std::string> columns, std::size_t batchSize, ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<State>())
   {
      if (!model || !cursor)
         throw ConfigurationError("hepsift::BatchCollector: no model or cursor given");
      if (batchSize == 0)
         throw ConfigurationError("hepsift: batch size must be at least 1");
      auto &s = *fState;
      // A per-event Scorer validates the columns against the model the same way.
      BasicScorer<ROOT::VecOps::RVec<float>, Cols...> check(model, 1, columns, options);
      (void)check;
      s.core.model = std::move(model);
      s.core.columns = std::move(columns);
      s.core.options = options;
      s.cursor = std::move(cursor);
      for (std::size_t i = 0; i < s.cursor->slots.size(); ++i)
         s.slots.push_back(Slot{s.core.model->makeWorkspace(batchSize), {batchSize, {nullptr, 0}}, 0});
   }

   void operator()(unsigned slot, ULong64_t entry, const Cols &...cols) const
   {
      auto &s = *fState;
      auto &where = s.cursor->slot(slot);
      Slot &sl = s.slots[slot];
      detail::fillInputs(s.core, sl.ws.input() + sl.n * s.core.model->nFeatures(), entry, cols...);
      sl.keys[sl.n++] = {where.task, where.current};
      if (sl.n == sl.ws.capacity())
         flush(sl);
   }

   /// Evaluates what is left in the slots' buffers; call once after the first pass.
   void finish() const
   {
      for (auto &sl : fState->slots)
         flush(sl);
   }

private:
   void flush(Slot &sl) const
   {
      if (sl.n == 0)
         return;
      const auto &model = *fState->core.model;
      model.run(sl.ws, sl.n);
      auto &table = *fState->cursor->table;
      for (std::size_t i = 0; i < sl.n; ++i)
         table.store(sl.keys[i].first, sl.keys[i].second, sl.ws.output() + i * model.nScores());
      sl.n = 0;
   }

   std::shared_ptr<State> fState;
};

namespace detail {

/// The two passes of a batched score: the collector made by `make(cursor)` (a ForeachSlot
/// callable over (slot, rdfentry_, columns...) with finish()) fills the table in a first event
/// loop over `df`, run now; the returned node reads column `name` from the table.
template <typename Node, typename Make>
ROOT::RDF::RNode batchedScore(Node df, std::string_view name, const std::shared_ptr<const Model> &model,
                              const std::vector<std::string> &columns, std::shared_ptr<ScoreTable> *tableOut,
                              Make make)
{
   auto cursor = std::make_shared<detail::BatchCursor>();
   cursor->table = std::make_shared<ScoreTable>(model->nScores());
   cursor->slots.resize(std::max(1u, df.GetNSlots()));
   auto node = detail::countTaskEntries(
      df, name,
      [cursor](unsigned slot, const ROOT::RDF::RSampleInfo &info) {
         cursor->slot(slot).task = cursor->table->task(info);
      },
      [cursor](unsigned slot) -> detail::BatchCursor::Slot & { return cursor->slot(slot); });
   auto collect = make(cursor);
   std::vector<std::string> withEntry{"rdfentry_"};
   withEntry.insert(withEntry.end(), columns.begin(), columns.end());
   node.ForeachSlot(collect, withEntry);
   collect.finish();
   if (tableOut)
      *tableOut = cursor->table;
   return detail::defineScores(node, name, model->nScores(), [cursor](unsigned slot, ULong64_t) {
      auto &where = cursor->slot(slot);
      return cursor->table->at(where.task, where.current);
   });
}

} // namespace detail

/// Runs the first pass over `df` (its event loop runs now) and returns the node with column
/// `name`: float for one-score models, ROOT::RVec<float> otherwise.
template <typename... Cols, typename Node>
ROOT::RDF::RNode DefineBatched(Node df, std::string_view name, std::shared_ptr<const Model> model,
                               const std::vector<std::string> &columns, std::size_t batchSize = 4096,
                               ScorerOptions options = ScorerOptions(), std::shared_ptr<ScoreTable> *tableOut = nullptr)
{
   return detail::batchedScore(df, name, model, columns, tableOut, [&](std::shared_ptr<detail::BatchCursor> cursor) {
      return BatchCollector<Cols...>(model, std::move(cursor), columns, batchSize, options);
   });
}

} // namespace hepsift

#endif
