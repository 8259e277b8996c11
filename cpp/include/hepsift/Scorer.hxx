// hepsift::Scorer: evaluate a hepsift::Model inside an RDataFrame event loop.
//
//   auto model = std::make_shared<const hepsift::Model>("model.onnx");
//   auto df2 = df.DefineSlotEntry("score",
//                  hepsift::Scorer<float, double, int>(model, df.GetNSlots(), {"a", "b", "c"}),
//                  {"a", "b", "c"});
//   // or, equivalently:  hepsift::Define<float, double, int>(df, "score", model, {"a", "b", "c"});
//
// The column types are template arguments (RDataFrame needs them at compile time); PyROOT
// users never write them: hepsift.rdf.define reads them from the data frame. Accepted
// column types: any arithmetic type (float, double, int, unsigned, Long64_t, bool, ...),
// converted to float; or one ROOT::RVec<T> column whose size is the model's number of
// features. Scorer returns a float (models with one score); MultiScorer returns
// ROOT::RVec<float> (models with several scores, e.g. class probabilities).
//
// Thread safety under ROOT::EnableImplicitMT: all slots share one Model (one ONNX Runtime
// session); each slot has its own Workspace, so the hot path takes no lock.
#ifndef HEPSIFT_SCORER_HXX
#define HEPSIFT_SCORER_HXX

#include "hepsift/Model.hxx"

#include <ROOT/RVec.hxx>
#include <RtypesCore.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace hepsift {

struct ScorerOptions {
   /// Throw NonFiniteInputError on a NaN or infinite input (default); false passes it on.
   bool checkFinite = true;
   /// Names of the inputs in error messages, one per column (default: the column names);
   /// e.g. the caller's expressions behind internal columns.
   std::vector<std::string> labels;
};

namespace detail {

template <typename T>
struct IsRVec : std::false_type {};
template <typename T>
struct IsRVec<ROOT::VecOps::RVec<T>> : std::true_type {};

template <typename... Cols>
constexpr bool isVectorInput()
{
   if constexpr (sizeof...(Cols) == 1)
      return (IsRVec<std::decay_t<Cols>>::value && ...);
   else
      return false;
}

struct ScorerState {
   std::shared_ptr<const Model> model;
   std::vector<std::string> columns;
   std::vector<Workspace> slots;
   ScorerOptions options;
};

/// Index of the first NaN or infinite value among x[0, n), n when all are finite. The test is on
/// the exponent bits (all ones: NaN or infinity), without an early exit, so that it vectorises:
/// std::isfinite in a loop costs several times more per value in cling-compiled code.
inline std::size_t firstNonFinite(const float *x, std::size_t n)
{
   std::uint32_t special = 0;
   for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      special |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
   }
   if (!special)
      return n;
   std::size_t i = 0;
   while (i < n && std::isfinite(x[i]))
      ++i;
   return i;
}

/// Throws NonFiniteInputError for `value` of `column` at `entry` ("17", "17 of file.root/Events").
[[noreturn]] inline void throwNonFinite(const std::string &column, float value, const std::string &entry,
                                        const Model &model)
{
   throw NonFiniteInputError("hepsift: input column '" + column + "' is " + (std::isnan(value) ? "NaN" : "infinite") +
                             " at entry " + entry + " (model '" + model.path() +
                             "'); Filter such events out first, or set checkFinite=false to pass them through");
}

[[noreturn]] inline void throwNonFinite(const ScorerState &s, std::size_t feature, ULong64_t entry, float value)
{
   const auto &names = s.options.labels.size() == s.columns.size() ? s.options.labels : s.columns;
   const std::string column = names.size() == 1 && s.model->nFeatures() > 1
                                 ? names[0] + "[" + std::to_string(feature) + "]"
                                 : (feature < names.size() ? names[feature] : "#" + std::to_string(feature));
   throwNonFinite(column, value, std::to_string(entry), *s.model);
}

/// What one event's input of `model` is: "8 features", "images of 2 x 33 x 33 = 2178 values".
inline std::string inputDescription(const Model &model)
{
   if (model.inputKind() != "image")
      return std::to_string(model.nFeatures()) + " features";
   std::string dims;
   for (auto d : model.eventShape())
      dims += (dims.empty() ? "" : " x ") + std::to_string(d);
   return "images of " + dims + " = " + std::to_string(model.nFeatures()) + " values";
}

/// Converts one event's columns to float into `in` (nFeatures floats) and, unless disabled,
/// checks that every value is finite; errors name the column and the entry.
template <typename... Cols>
void fillInputs(const ScorerState &s, float *in, ULong64_t entry, const Cols &...cols)
{
   const std::size_t nFeatures = s.model->nFeatures();
   if constexpr (isVectorInput<Cols...>()) {
      const auto &vec = std::get<0>(std::forward_as_tuple(cols...));
      if (vec.size() != nFeatures)
         throw EvaluationError("hepsift: column '" + s.columns[0] + "' has " + std::to_string(vec.size()) +
                               " values at entry " + std::to_string(entry) + " but model '" + s.model->path() +
                               "' takes " + inputDescription(*s.model));
      for (std::size_t i = 0; i < nFeatures; ++i)
         in[i] = static_cast<float>(vec[i]);
   } else {
      if (sizeof...(Cols) != nFeatures)
         throw InputMismatchError("hepsift: model '" + s.model->path() + "' takes " + std::to_string(nFeatures) +
                                  " features but " + std::to_string(sizeof...(Cols)) + " values were given");
      std::size_t i = 0;
      ((in[i++] = static_cast<float>(cols)), ...);
   }
   if (s.options.checkFinite)
      if (const std::size_t i = firstNonFinite(in, nFeatures); i < nFeatures)
         throwNonFinite(s, i, entry, in[i]);
}

} // namespace detail

template <typename Ret, typename... Cols>
class BasicScorer {
   static_assert(sizeof...(Cols) > 0, "hepsift::Scorer needs at least one input column");
   static_assert(detail::isVectorInput<Cols...>() || (std::is_arithmetic_v<std::decay_t<Cols>> && ...),
                 "hepsift::Scorer columns must be arithmetic (float, double, int, unsigned, Long64_t, bool) "
                 "or a single ROOT::RVec column");
   static constexpr bool kMulti = std::is_same_v<Ret, ROOT::VecOps::RVec<float>>;
   static_assert(kMulti || std::is_same_v<Ret, float>, "hepsift::BasicScorer returns float or ROOT::RVec<float>");

public:
   BasicScorer(std::shared_ptr<const Model> model, unsigned nSlots, std::vector<std::string> columns,
               ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<detail::ScorerState>())
   {
      if (!model)
         throw ConfigurationError("hepsift::Scorer: no model given");
      auto &s = *fState;
      s.model = std::move(model);
      s.columns = std::move(columns);
      s.options = options;
      const std::size_t nCols = sizeof...(Cols);
      if (s.columns.size() != nCols)
         throw ConfigurationError("hepsift::Scorer: " + std::to_string(nCols) + " column types but " +
                                  std::to_string(s.columns.size()) + " column names");
      if (!detail::isVectorInput<Cols...>() && nCols != s.model->nFeatures())
         throw InputMismatchError("hepsift: model '" + s.model->path() + "' takes " +
                                  std::to_string(s.model->nFeatures()) + " features but " + std::to_string(nCols) +
                                  " columns were given");
      if (!kMulti && s.model->nScores() != 1)
         throw ConfigurationError("hepsift: model '" + s.model->path() + "' gives " +
                                  std::to_string(s.model->nScores()) +
                                  " scores per event; use hepsift::MultiScorer (returns ROOT::RVec<float>)");
      const unsigned n = nSlots == 0 ? 1 : nSlots;
      s.slots.reserve(n);
      for (unsigned i = 0; i < n; ++i)
         s.slots.push_back(s.model->makeWorkspace(1));
   }

   Ret operator()(unsigned slot, ULong64_t entry, const Cols &...cols) const
   {
      auto &s = *fState;
      if (slot >= s.slots.size())
         throw EvaluationError("hepsift::Scorer: slot " + std::to_string(slot) + " but only " +
                               std::to_string(s.slots.size()) +
                               " slots were prepared; build the scorer with the data frame's GetNSlots()");
      Workspace &ws = s.slots[slot];
      detail::fillInputs(s, ws.input(), entry, cols...);
      s.model->run(ws, 1);
      if constexpr (kMulti)
         return Ret(ws.output(), ws.output() + s.model->nScores());
      else
         return ws.output()[0];
   }

   const Model &model() const { return *fState->model; }
   const std::vector<std::string> &columns() const { return fState->columns; }

private:
   std::shared_ptr<detail::ScorerState> fState;
};

template <typename... Cols>
using Scorer = BasicScorer<float, Cols...>;
template <typename... Cols>
using MultiScorer = BasicScorer<ROOT::VecOps::RVec<float>, Cols...>;

/// Defines column `name` on data frame node `df` with the score of `model` evaluated on
/// `columns` (types Cols...). Returns the new node.
template <typename... Cols, typename Node>
auto Define(Node df, std::string_view name, std::shared_ptr<const Model> model, const std::vector<std::string> &columns,
            ScorerOptions options = ScorerOptions())
{
   return df.DefineSlotEntry(name, Scorer<Cols...>(std::move(model), df.GetNSlots(), columns, options), columns);
}

} // namespace hepsift

#endif
