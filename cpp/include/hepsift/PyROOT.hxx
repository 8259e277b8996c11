// hepsift/PyROOT.hxx — the entry points hepsift.rdf calls through cppyy.
//
// Python hands over plain values (paths, column names, flags); every C++ type and template is
// spelled here, so nothing of hepsift is compiled from strings built in Python. `import
// hepsift.rdf` includes this header; C++ users call hepsift::DefineScore (the same default
// rule), or hepsift::Define, DefineBatched and DefineStreamed directly.
#ifndef HEPSIFT_PYROOT_HXX
#define HEPSIFT_PYROOT_HXX

#include "hepsift/Batch.hxx"
#include "hepsift/Columns.hxx"
#include "hepsift/Expression.hxx"
#include "hepsift/Images.hxx"
#include "hepsift/Noise.hxx"
#include "hepsift/SetScorer.hxx"
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

/// The score of `model` on `columns` of types Cols... by the path hepsift::chooseStrategy
/// picks for `strategy` ("auto", "per-event", "stream", "two-pass") and `batchSize` (0: not
/// given): a float column for one score, ROOT::RVec<float> for several. `labels` name the
/// inputs in error messages (the caller's expressions behind internal columns).
template <typename... Cols>
ROOT::RDF::RNode defineScore(ROOT::RDF::RNode df, const std::string &name, std::shared_ptr<const Model> model,
                             const std::vector<std::string> &columns, bool checkFinite, const std::string &strategy,
                             std::size_t batchSize, const std::vector<std::string> &labels)
{
   return DefineScore<Cols...>(df, name, model, columns, parseStrategy(strategy), batchSize,
                               options(checkFinite, labels));
}

/// The score of set model `model` on the RVec `columns` of types Cols..., by the path
/// hepsift::chooseSetStrategy picks (see hepsift::DefineSetScore); `maxObjects` 0 keeps every
/// object.
template <typename... Cols>
ROOT::RDF::RNode defineSetScore(ROOT::RDF::RNode df, const std::string &name, std::shared_ptr<const Model> model,
                                const std::vector<std::string> &columns, bool checkFinite, const std::string &strategy,
                                std::size_t batchSize, std::size_t maxObjects, const std::vector<std::string> &labels)
{
   return DefineSetScore<Cols...>(df, name, model, columns, maxObjects, parseStrategy(strategy), batchSize,
                                  options(checkFinite, labels));
}

/// The per-jet scores of grouped set model `model` (see hepsift::DefineGroupedSetScore): the
/// constituent `columns` (types Cols...), the `index` column (type Index) and the `jets` column
/// (type Jets: an RVec of the jet collection or an integer count); `maxObjects` 0 keeps every
/// constituent of each jet.
template <typename Index, typename Jets, typename... Cols>
ROOT::RDF::RNode defineGroupedSetScore(ROOT::RDF::RNode df, const std::string &name,
                                       std::shared_ptr<const Model> model, const std::vector<std::string> &columns,
                                       const std::string &index, const std::string &jets, bool checkFinite,
                                       const std::string &strategy, std::size_t maxObjects,
                                       const std::vector<std::string> &labels)
{
   return DefineGroupedSetScore<Index, Jets, Cols...>(df, name, model, columns, index, jets, maxObjects,
                                                      parseStrategy(strategy), options(checkFinite, labels));
}

/// The path chooseStrategy picks (its name) and why it does not stream ("" when it does).
inline std::vector<std::string> choose(ROOT::RDF::RNode df, const std::vector<std::string> &columns,
                                       const std::string &strategy, std::size_t batchSize,
                                       const std::vector<std::string> &labels)
{
   const Choice c = chooseStrategy(df, columns, parseStrategy(strategy), batchSize, labels);
   return {strategyName(c.strategy), std::to_string(c.batchSize), c.why};
}

/// As choose, for set model `model` (hepsift::chooseSetStrategy).
inline std::vector<std::string> chooseSet(ROOT::RDF::RNode df, std::shared_ptr<const Model> model,
                                          const std::vector<std::string> &columns, const std::string &strategy,
                                          std::size_t batchSize, const std::vector<std::string> &labels)
{
   const Choice c = chooseSetStrategy(df, *model, columns, parseStrategy(strategy), batchSize, labels);
   return {strategyName(c.strategy), std::to_string(c.batchSize), c.why};
}

/// The files of the chain `df` reads, as [file, tree, file, tree, ...] in the chain's order.
inline std::vector<std::string> chainFiles(ROOT::RDF::RNode df)
{
   std::vector<std::string> out;
   for (const auto &[file, tree] : detail::chainFiles(df)) {
      out.push_back(file);
      out.push_back(tree);
   }
   return out;
}

} // namespace pyroot
} // namespace hepsift

#endif
