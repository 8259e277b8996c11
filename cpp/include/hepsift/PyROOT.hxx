// hepsift/PyROOT.hxx — the entry points hepsift.rdf calls through cppyy.
//
// Python hands over plain values (paths, column names, flags); every C++ type and template is
// spelled here, so nothing of hepsift is compiled from strings built in Python. `import
// hepsift.rdf` includes this header; C++ users call hepsift::Define, DefineBatched and
// DefineStreamed directly.
#ifndef HEPSIFT_PYROOT_HXX
#define HEPSIFT_PYROOT_HXX

#include "hepsift/Batch.hxx"
#include "hepsift/Columns.hxx"
#include "hepsift/Expression.hxx"
#include "hepsift/Noise.hxx"
#include "hepsift/Stream.hxx"

#include <memory>
#include <string>
#include <vector>

namespace hepsift {
namespace pyroot {

inline std::shared_ptr<const Model> load(const std::string &path, int threads, const std::string &provider,
                                         bool allowFallback, const std::string &output, std::size_t cpuChunk = 4096)
{
   ModelOptions o;
   o.threads = threads;
   o.provider = provider;
   o.allowFallback = allowFallback;
   o.output = output;
   o.cpuChunk = cpuChunk;
   return std::make_shared<const Model>(path, o);
}

inline void evaluate(const Model &m, const float *in, std::size_t n, float *out)
{
   m.evaluate(in, n, out);
}

inline ScorerOptions options(bool checkFinite, const std::vector<std::string> &labels)
{
   ScorerOptions o;
   o.checkFinite = checkFinite;
   o.labels = labels;
   return o;
}

/// Per-event (batchSize <= 1) or two-pass batched score of `model` on `columns` of types
/// Cols...: a float column for one score, ROOT::RVec<float> for several. `labels` name the
/// inputs in error messages (the caller's expressions behind internal columns).
template <typename... Cols>
ROOT::RDF::RNode defineScore(ROOT::RDF::RNode df, const std::string &name, std::shared_ptr<const Model> model,
                             const std::vector<std::string> &columns, bool checkFinite, std::size_t batchSize,
                             const std::vector<std::string> &labels)
{
   const ScorerOptions o = options(checkFinite, labels);
   if (batchSize > 1)
      return DefineBatched<Cols...>(df, name, model, columns, batchSize, o);
   if (model && model->nScores() > 1)
      return df.DefineSlotEntry(name, MultiScorer<Cols...>(model, df.GetNSlots(), columns, o), columns);
   return df.DefineSlotEntry(name, Scorer<Cols...>(model, df.GetNSlots(), columns, o), columns);
}

/// Streamed batched score (one event loop; see hepsift/Stream.hxx for when it applies).
inline ROOT::RDF::RNode defineStreamed(ROOT::RDF::RInterface<ROOT::Detail::RDF::RLoopManager> df,
                                       const std::string &name, std::shared_ptr<const Model> model,
                                       const std::vector<std::string> &columns, bool checkFinite,
                                       std::size_t batchSize)
{
   return DefineStreamed(df, name, model, columns, batchSize, options(checkFinite, columns));
}

} // namespace pyroot
} // namespace hepsift

#endif
