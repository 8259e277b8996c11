// Scoring from an RDataFrame *string expression*, for graphs that only take expressions
// (distributed RDataFrame on Dask or Spark replays the graph on the workers from strings).
//
//   df.Define("score", "[&]{ static const hepsift::expr::Handle h({\"model.onnx\"}, {\"a\", \"b\"}, true);"
//                      "     return h.score(rdfslot_, rdfentry_, a, b); }()")
//
// hepsift.rdf.define writes such expressions itself for distributed data frames. The handle
// is created once per Define (a function-local static: thread-safe, no lock afterwards), with
// one workspace per slot of ROOT's thread pool.
//
// expr::Stream is the streamed batched path (hepsift/Stream.hxx) in the same form: three
// expressions on the data frame itself, each worker scoring its own entry ranges in blocks
// read from its files:
//
//   df.DefinePerSample("__hepsift_task_score", "stream().start(rdfslot_, rdfsampleinfo_)")
//     .Filter("stream().advance(rdfslot_)", "hepsift")
//     .Define("score", "stream().score(rdfslot_, rdfentry_)")
#ifndef HEPSIFT_EXPRESSION_HXX
#define HEPSIFT_EXPRESSION_HXX

#include "hepsift/Scorer.hxx"
#include "hepsift/Stream.hxx"

#include <TROOT.h>
#include <sys/stat.h>

namespace hepsift {
namespace expr {

/// The first of `candidates` that exists on this machine; ModelError when none does.
inline std::string findModel(const std::vector<std::string> &candidates)
{
   for (const auto &c : candidates) {
      struct stat st;
      if (::stat(c.c_str(), &st) == 0)
         return c;
   }
   std::string listed;
   for (const auto &c : candidates)
      listed += (listed.empty() ? "'" : ", '") + c + "'";
   throw ModelError("hepsift: none of the model files " + listed + " exists on this machine");
}

class Handle {
public:
   /// `candidates`: paths tried in order (e.g. the absolute path, then the bare file name that
   /// distributed workers receive in their working directory).
   Handle(const std::vector<std::string> &candidates, std::vector<std::string> columns, bool checkFinite)
      : fState(std::make_shared<detail::ScorerState>())
   {
      const std::string found = findModel(candidates);
      auto &s = *fState;
      s.model = std::make_shared<const Model>(found);
      s.columns = std::move(columns);
      s.options.checkFinite = checkFinite;
      if (s.columns.size() != s.model->nFeatures())
         throw InputMismatchError("hepsift: model '" + found + "' takes " + std::to_string(s.model->nFeatures()) +
                                  " features but " + std::to_string(s.columns.size()) + " inputs were given");
      const unsigned n = std::max(1u, ROOT::GetThreadPoolSize());
      for (unsigned i = 0; i < n; ++i)
         s.slots.push_back(s.model->makeWorkspace(1));
   }

   template <typename... T>
   float score(unsigned slot, ULong64_t entry, const T &...x) const
   {
      return eval(slot, entry, x...)[0];
   }

   template <typename... T>
   ROOT::VecOps::RVec<float> scores(unsigned slot, ULong64_t entry, const T &...x) const
   {
      const float *p = eval(slot, entry, x...);
      return ROOT::VecOps::RVec<float>(p, p + fState->model->nScores());
   }

private:
   template <typename... T>
   const float *eval(unsigned slot, ULong64_t entry, const T &...x) const
   {
      auto &s = *fState;
      if (slot >= s.slots.size())
         throw EvaluationError("hepsift: slot " + std::to_string(slot) + " beyond the " +
                               std::to_string(s.slots.size()) + " workspaces prepared for model '" +
                               s.model->path() + "'");
      Workspace &ws = s.slots[slot];
      detail::fillInputs(s, ws.input(), entry, x...);
      s.model->run(ws, 1);
      return ws.output();
   }

   std::shared_ptr<detail::ScorerState> fState;
};

/// The streamed batched score (DefineStreamed) driven by string expressions; see the top of
/// this header. Where it applies is decided by hepsift::chooseStrategy on the client.
class Stream {
public:
   /// `chain`: the (file, tree) pairs of the data set in order, as the client sees them
   /// (hepsift::detail::chainFiles), to place each tree in the chain's numbering.
   Stream(const std::vector<std::string> &candidates, std::vector<std::string> columns, bool checkFinite,
          std::size_t batchSize, std::vector<std::pair<std::string, std::string>> chain = {})
   {
      ScorerOptions o;
      o.checkFinite = checkFinite;
      fState = std::make_shared<detail::StreamState>(
         std::make_shared<const Model>(findModel(candidates)), std::move(columns), batchSize, o,
         std::max(1u, ROOT::GetThreadPoolSize()), nullptr, detail::StreamPlacement::ByCounting, std::move(chain));
   }

   /// DefinePerSample: slot `slot` starts the entry range of one tree (returns its first entry).
   ULong64_t start(unsigned slot, const ROOT::RDF::RSampleInfo &info) const
   {
      fState->start(slot, info);
      return info.EntryRange().first;
   }
   /// Filter (always true): slot `slot` moves to its next entry.
   bool advance(unsigned slot) const
   {
      fState->advance(slot);
      return true;
   }
   float score(unsigned slot, ULong64_t entry) const { return *fState->scores(slot, entry); }
   ROOT::VecOps::RVec<float> scores(unsigned slot, ULong64_t entry) const
   {
      const float *p = fState->scores(slot, entry);
      return ROOT::VecOps::RVec<float>(p, p + fState->model->nScores());
   }

private:
   std::shared_ptr<detail::StreamState> fState;
};

} // namespace expr
} // namespace hepsift

#endif
