// Batched scoring for RDataFrame: a first pass fills an entry-indexed score table, many
// events per model call; the score column then reads the table.
//
//   auto model = std::make_shared<const hepsift::Model>("model.onnx");
//   auto scored = hepsift::DefineBatched<float, float>(df, "score", model, {"a", "b"}, 4096);
//   // scored.Histo1D("score"), Filter("score > 0.9"), Snapshot(...) as usual
//
// Why two passes: an RDataFrame Define must return the value of the current entry at once,
// so events cannot be held back to fill a batch in the same loop. The first pass (a
// ForeachSlot over the same graph, so upstream Filters, Range, Defines/expressions, TChains
// and RNTuple sources behave as in the analysis) buffers inputs per slot and evaluates them
// `batchSize` at a time; the scores are stored by global entry number (rdfentry_, which is
// identical in every event loop over the same graph). The analysis' own loop then looks
// them up. Cost: the inputs are read twice when the analysis reads them too, and the table
// holds nScores floats per entry of the scored range (4 bytes per event for one score).
// The per-event Scorer needs no table and no extra pass.
#ifndef HEPSIFT_BATCH_HXX
#define HEPSIFT_BATCH_HXX

#include "hepsift/Scorer.hxx"

#include <ROOT/RDataFrame.hxx>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>

namespace hepsift {

/// Scores by global entry number, filled by BatchCollector, read by BatchLookup.
class ScoreTable {
public:
   explicit ScoreTable(std::size_t nScores) : fNScores(nScores) {}

   void store(const ULong64_t *entries, const float *scores, std::size_t n)
   {
      if (n == 0)
         return;
      const ULong64_t hi = *std::max_element(entries, entries + n);
      std::lock_guard<std::mutex> lock(fMutex);
      if ((hi + 1) * fNScores > fScores.size()) {
         // Grow geometrically; NaN marks entries that were never scored.
         std::size_t want = std::max<std::size_t>((hi + 1) * fNScores, fScores.size() * 3 / 2);
         fScores.resize(want, std::numeric_limits<float>::quiet_NaN());
         fSeen.resize(want / fNScores, 0);
      }
      for (std::size_t i = 0; i < n; ++i) {
         std::copy(scores + i * fNScores, scores + (i + 1) * fNScores, fScores.begin() + entries[i] * fNScores);
         fSeen[entries[i]] = 1;
      }
      fCount += n;
   }

   /// Pointer to the nScores() scores of `entry`; throws if the first pass did not score it.
   const float *at(ULong64_t entry) const
   {
      if (entry >= fSeen.size() || !fSeen[entry])
         throw EvaluationError("hepsift: entry " + std::to_string(entry) +
                               " was not scored by the batched first pass; the data frame graph must be the "
                               "same in both passes (define the score after changing it)");
      return fScores.data() + entry * fNScores;
   }

   std::size_t nScores() const { return fNScores; }
   std::size_t size() const { return fCount; }
   std::size_t bytes() const { return fScores.capacity() * sizeof(float) + fSeen.capacity(); }

private:
   std::size_t fNScores;
   std::vector<float> fScores;
   std::vector<unsigned char> fSeen;
   std::size_t fCount = 0;
   mutable std::mutex fMutex;
};

/// First pass: a ForeachSlot callable over (slot, rdfentry_, inputs...) that fills the table.
template <typename... Cols>
class BatchCollector {
   static_assert(detail::isVectorInput<Cols...>() || (std::is_arithmetic_v<std::decay_t<Cols>> && ...),
                 "hepsift::BatchCollector columns must be arithmetic or a single ROOT::RVec column");

   struct Slot {
      Workspace ws;
      std::vector<ULong64_t> entries;
      std::size_t n = 0;
   };
   struct State {
      detail::ScorerState core; // model, columns, options (slots unused: see `slots`)
      std::shared_ptr<ScoreTable> table;
      std::vector<Slot> slots;
   };

public:
   BatchCollector(std::shared_ptr<const Model> model, std::shared_ptr<ScoreTable> table, unsigned nSlots,
                  std::vector<std::string> columns, std::size_t batchSize, ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<State>())
   {
      if (!model || !table)
         throw ConfigurationError("hepsift::BatchCollector: no model or table given");
      if (batchSize == 0)
         throw ConfigurationError("hepsift: batch size must be at least 1");
      auto &s = *fState;
      // A per-event Scorer validates the columns against the model the same way.
      BasicScorer<ROOT::VecOps::RVec<float>, Cols...> check(model, 1, columns, options);
      (void)check;
      if (table->nScores() != model->nScores())
         throw ConfigurationError("hepsift::BatchCollector: table and model differ in the number of scores");
      s.core.model = std::move(model);
      s.core.columns = std::move(columns);
      s.core.options = options;
      s.table = std::move(table);
      const unsigned n = nSlots == 0 ? 1 : nSlots;
      for (unsigned i = 0; i < n; ++i)
         s.slots.push_back(Slot{s.core.model->makeWorkspace(batchSize), std::vector<ULong64_t>(batchSize), 0});
   }

   void operator()(unsigned slot, ULong64_t entry, const Cols &...cols) const
   {
      auto &s = *fState;
      if (slot >= s.slots.size())
         throw EvaluationError("hepsift::BatchCollector: slot " + std::to_string(slot) + " but only " +
                               std::to_string(s.slots.size()) + " slots were prepared");
      Slot &sl = s.slots[slot];
      detail::fillInputs(s.core, sl.ws.input() + sl.n * s.core.model->nFeatures(), entry, cols...);
      sl.entries[sl.n++] = entry;
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
      fState->core.model->run(sl.ws, sl.n);
      fState->table->store(sl.entries.data(), sl.ws.output(), sl.n);
      sl.n = 0;
   }

   std::shared_ptr<State> fState;
};

/// Second pass: the score column, read from the table by rdfentry_.
class BatchLookup {
public:
   explicit BatchLookup(std::shared_ptr<const ScoreTable> table) : fTable(std::move(table)) {}
   float operator()(ULong64_t entry) const { return *fTable->at(entry); }

private:
   std::shared_ptr<const ScoreTable> fTable;
};

class BatchLookupMulti {
public:
   explicit BatchLookupMulti(std::shared_ptr<const ScoreTable> table) : fTable(std::move(table)) {}
   ROOT::VecOps::RVec<float> operator()(ULong64_t entry) const
   {
      const float *p = fTable->at(entry);
      return ROOT::VecOps::RVec<float>(p, p + fTable->nScores());
   }

private:
   std::shared_ptr<const ScoreTable> fTable;
};

/// Runs the first pass over `df` (its event loop runs now) and returns `df` with column
/// `name`: float for one-score models, ROOT::RVec<float> otherwise.
template <typename... Cols, typename Node>
auto DefineBatched(Node df, std::string_view name, std::shared_ptr<const Model> model,
                   const std::vector<std::string> &columns, std::size_t batchSize = 4096,
                   ScorerOptions options = ScorerOptions(), std::shared_ptr<ScoreTable> *tableOut = nullptr)
{
   auto table = std::make_shared<ScoreTable>(model->nScores());
   BatchCollector<Cols...> collect(model, table, df.GetNSlots(), columns, batchSize, options);
   std::vector<std::string> withEntry{"rdfentry_"};
   withEntry.insert(withEntry.end(), columns.begin(), columns.end());
   df.ForeachSlot(collect, withEntry);
   collect.finish();
   if (tableOut)
      *tableOut = table;
   if (model->nScores() == 1)
      return ROOT::RDF::RNode(df.Define(name, BatchLookup(table), {"rdfentry_"}));
   return ROOT::RDF::RNode(df.Define(name, BatchLookupMulti(table), {"rdfentry_"}));
}

} // namespace hepsift

#endif
