// hepsift::SetScorer: evaluate a model of particle sets inside an RDataFrame event loop.
//
//   auto model = std::make_shared<const hepsift::Model>("deepsets.onnx");
//   auto df2 = hepsift::DefineSetScore<ROOT::RVecF, ROOT::RVecF, ROOT::RVecF>(
//                  df, "ds_score", model, {"PFCand_pt", "PFCand_eta", "PFCand_phi"});
//
// A set model (Model::inputKind() == "set") takes objects [batch, P, F] with a dynamic P and,
// optionally, a second input 'mask' [batch, P]. It is fed from F ROOT::RVec columns (any
// arithmetic element type, converted to float) of equal length per event: object p of the
// event is (col_0[p], ..., col_{F-1}[p]). Each event is one model call with P = its number of
// objects (or the first `maxObjects` of them, in collection order), mask 1.
//
// Events without objects: a masked model gets one zero object with mask 0 (the score of an
// empty set); a model without a mask input cannot score an empty set and throws an
// EvaluationError naming the columns and the entry. Columns of different lengths in one
// event throw an EvaluationError naming them and the entry.
//
// The score: a float for a model with one score per event; ROOT::RVec<float> with nScores()
// values for several; for a per-object score ([batch, P] or [batch, P, 1]) a
// ROOT::RVec<float> aligned with the input collection (same length; objects beyond
// `maxObjects` are not scored and hold NaN; an event without objects gives an empty RVec).
//
// Paths (chooseSetStrategy: the one rule of hepsift::chooseStrategy):
// * streamed (DefineSetStreamed; the default where it applies: the RDataFrame itself over a
//   TTree, no Filter before the score, columns that are jagged branches of the tree such as
//   Jet_pt[nJet], no systematic variations): each slot reads the next `batchSize` entries of
//   its task from the tree (hepsift/Stream.hxx's task machinery) and evaluates them grouped by
//   equal numbers of objects, one model call per group, so no padding enters the model and
//   models without a mask or with per-object scores are batched too;
// * per event (elsewhere), one model call per event;
// * two passes (strategy "two-pass", or "auto" with a batch size where streaming does not
//   apply) for a masked model with a score per event (hepsift/Batch.hxx): batchSize events per
//   call padded to the longest event of the batch with mask 0.
//
// Grouped sets (Model::inputKind() == "grouped-set", such as hepsift's JetTagger: objects
// [batch, J, P, F] + mask [batch, J, P], one score per jet [batch, J]):
//
//   auto tagger = std::make_shared<const hepsift::Model>("tagger.onnx");
//   auto df3 = hepsift::DefineGroupedSetScore<ROOT::RVecI, ROOT::RVecF, ROOT::RVecF, ROOT::RVecF>(
//                  df, "FatJet_top", tagger, {"PFCand_pt", "PFCand_eta"}, "PFCand_fatJetIdx", "FatJet_pt");
//
// takes the F constituent columns, the index column (the jet of each constituent, -1 for none)
// and the jets: an RVec column of the jet collection (its size) or an integer count (nFatJet).
// Per event, the constituents are grouped by jet in collection order into [1, J, P, F] with P
// the largest number of constituents of one of the event's jets (at most `maxObjects` per jet,
// the first in collection order), mask 1 for real constituents; the result is a
// ROOT::RVec<float> of J scores aligned with the jet collection. A jet without constituents is
// fed with mask 0 throughout and scores what the model gives it (hepsift's JetTagger: 0, as
// JetTagger.predict_jets); an event without jets gives an empty RVec without a model call.
// Columns of different lengths (constituent columns or the index) and an index outside
// [-1, J) throw an EvaluationError naming the columns and the entry. Always per event.
#ifndef HEPSIFT_SETSCORER_HXX
#define HEPSIFT_SETSCORER_HXX

#include "hepsift/Stream.hxx"

#include <ROOT/RDF/RInterface.hxx>
#include <ROOT/RVec.hxx>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace hepsift {

namespace detail {

struct SetSlot {
   std::vector<float> objects, mask, out;
};

struct SetState {
   std::shared_ptr<const Model> model;
   std::vector<std::string> columns;
   std::size_t maxObjects = 0;
   ScorerOptions options;
   std::vector<SetSlot> slots;

   const std::vector<std::string> &names() const
   {
      return options.labels.size() == columns.size() ? options.labels : columns;
   }
   std::string joinedNames() const
   {
      std::string out;
      for (const auto &n : names())
         out += (out.empty() ? "'" : ", '") + n + "'";
      return out;
   }
};

/// Copies the first `P` values of one column (feature `f` of `F`) into `objects` (object-major).
template <typename Vec>
void fillSetColumn(const SetState &s, float *objects, std::size_t f, std::size_t P, ULong64_t entry, const Vec &col)
{
   const std::size_t F = s.model->nFeatures();
   for (std::size_t p = 0; p < P; ++p) {
      const float v = static_cast<float>(col[p]);
      if (s.options.checkFinite && !std::isfinite(v))
         throwNonFinite(s.names()[f] + "[" + std::to_string(p) + "]", v, std::to_string(entry), *s.model);
      objects[p * F + f] = v;
   }
}

/// The message of columns 0 and `k` of one event that differ in length (`n0`, `nk` values);
/// `entry` names the event.
inline std::string lengthMismatch(const SetState &s, std::size_t k, std::size_t n0, std::size_t nk,
                                  const std::string &entry)
{
   return "hepsift: the set columns '" + s.names()[0] + "' (" + std::to_string(n0) + " values) and '" +
          s.names()[k] + "' (" + std::to_string(nk) + " values) differ in length at entry " + entry + " (model '" +
          s.model->path() + "'); the columns of a set model must belong to one collection";
}

/// The message of an event without objects scored by a model without a 'mask' input.
inline std::string emptySet(const SetState &s, const std::string &entry)
{
   return "hepsift: entry " + entry + " has no objects in " + s.joinedNames() + " and model '" + s.model->path() +
          "' has no 'mask' input, so it cannot score an empty set; Filter such events out first (e.g. \"" +
          s.names()[0] + ".size() > 0\"), or export the model with a mask";
}

/// Checks that one event's columns have equal lengths (else EvaluationError naming them and
/// the entry) and returns their length.
template <typename... Cols>
std::size_t setLength(const SetState &s, ULong64_t entry, const Cols &...cols)
{
   const std::array<std::size_t, sizeof...(Cols)> sizes{static_cast<std::size_t>(cols.size())...};
   for (std::size_t k = 1; k < sizes.size(); ++k)
      if (sizes[k] != sizes[0])
         throw EvaluationError(lengthMismatch(s, k, sizes[0], sizes[k], std::to_string(entry)));
   return sizes[0];
}

} // namespace detail

template <typename Ret, typename... Cols>
class BasicSetScorer {
   static_assert(sizeof...(Cols) > 0, "hepsift::SetScorer needs at least one input column");
   static_assert((detail::IsRVec<std::decay_t<Cols>>::value && ...),
                 "hepsift::SetScorer columns are ROOT::RVec columns, one per feature of the objects");
   static constexpr bool kMulti = std::is_same_v<Ret, ROOT::VecOps::RVec<float>>;
   static_assert(kMulti || std::is_same_v<Ret, float>, "hepsift::BasicSetScorer returns float or ROOT::RVec<float>");

public:
   BasicSetScorer(std::shared_ptr<const Model> model, unsigned nSlots, std::vector<std::string> columns,
                  std::size_t maxObjects = 0, ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<detail::SetState>())
   {
      if (!model)
         throw ConfigurationError("hepsift::SetScorer: no model given");
      auto &s = *fState;
      s.model = std::move(model);
      s.columns = std::move(columns);
      s.maxObjects = maxObjects;
      s.options = std::move(options);
      if (s.model->inputKind() != "set")
         throw InputMismatchError("hepsift: model '" + s.model->path() + "' takes " + s.model->inputKind() +
                                  " inputs, not sets of objects; score it with hepsift::DefineScore");
      if (s.columns.size() != sizeof...(Cols))
         throw ConfigurationError("hepsift::SetScorer: " + std::to_string(sizeof...(Cols)) +
                                  " column types but " + std::to_string(s.columns.size()) + " column names");
      if (s.columns.size() != s.model->nFeatures())
         throw InputMismatchError("hepsift: set model '" + s.model->path() + "' takes " +
                                  std::to_string(s.model->nFeatures()) + " features per object but " +
                                  std::to_string(s.columns.size()) + " columns were given (" + s.joinedNames() +
                                  ")");
      if (!kMulti && (s.model->perObject() || s.model->nScores() != 1))
         throw ConfigurationError("hepsift: set model '" + s.model->path() +
                                  "' gives several values per event; use hepsift::MultiSetScorer "
                                  "(returns ROOT::RVec<float>)");
      s.slots.resize(nSlots == 0 ? 1 : nSlots);
   }

   Ret operator()(unsigned slot, ULong64_t entry, const Cols &...cols) const
   {
      auto &s = *fState;
      if (slot >= s.slots.size())
         throw EvaluationError("hepsift::SetScorer: slot " + std::to_string(slot) + " but only " +
                               std::to_string(s.slots.size()) +
                               " slots were prepared; build the scorer with the data frame's GetNSlots()");
      const Model &model = *s.model;
      const std::size_t n = detail::setLength(s, entry, cols...);
      const std::size_t P = s.maxObjects > 0 ? std::min(n, s.maxObjects) : n;
      if (model.perObject() && P == 0)
         return Ret();
      if (P == 0 && !model.masked())
         throw EvaluationError(detail::emptySet(s, std::to_string(entry)));
      const std::size_t rows = std::max<std::size_t>(P, 1);
      detail::SetSlot &sl = s.slots[slot];
      sl.objects.assign(rows * model.nFeatures(), 0.f);
      sl.mask.assign(rows, P == 0 ? 0.f : 1.f);
      sl.out.resize(model.perObject() ? rows : model.nScores());
      std::size_t f = 0;
      (detail::fillSetColumn(s, sl.objects.data(), f++, P, entry, cols), ...);
      model.evaluateSet(sl.objects.data(), sl.mask.data(), 1, rows, sl.out.data());
      if constexpr (kMulti) {
         if (model.perObject()) {
            Ret r(n, std::numeric_limits<float>::quiet_NaN());
            std::copy(sl.out.begin(), sl.out.begin() + P, r.begin());
            return r;
         }
         return Ret(sl.out.begin(), sl.out.end());
      } else
         return sl.out[0];
   }

   const Model &model() const { return *fState->model; }

private:
   std::shared_ptr<detail::SetState> fState;
};

template <typename... Cols>
using SetScorer = BasicSetScorer<float, Cols...>;
template <typename... Cols>
using MultiSetScorer = BasicSetScorer<ROOT::VecOps::RVec<float>, Cols...>;

/// First pass of a batched set score (masked models with a score per event): buffers the
/// objects of `batchSize` events per slot, pads them to the longest event of the batch with
/// mask 0 and evaluates them in one call; the scores go to the table of hepsift/Batch.hxx.
template <typename... Cols>
class SetBatchCollector {
   struct Slot {
      std::vector<float> objects; // the kept objects of the buffered events, one after the other
      std::vector<std::size_t> counts;
      std::vector<std::pair<ScoreTable::Task *, std::size_t>> keys;
      std::vector<float> padded, mask, out;
   };
   struct State {
      detail::SetState core;
      std::shared_ptr<detail::BatchCursor> cursor;
      std::size_t batchSize = 1;
      std::vector<Slot> slots;
   };

public:
   SetBatchCollector(std::shared_ptr<const Model> model, std::shared_ptr<detail::BatchCursor> cursor,
                     std::vector<std::string> columns, std::size_t batchSize, std::size_t maxObjects = 0,
                     ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<State>())
   {
      if (!model || !cursor)
         throw ConfigurationError("hepsift::SetBatchCollector: no model or cursor given");
      if (batchSize == 0)
         throw ConfigurationError("hepsift: batch size must be at least 1");
      // A per-event scorer validates the columns against the model the same way.
      MultiSetScorer<Cols...> check(model, 1, columns, maxObjects, options);
      (void)check;
      if (!model->masked() || model->perObject())
         throw ConfigurationError("hepsift: set model '" + model->path() + "' " +
                                  (model->perObject() ? "gives a score per object" : "has no 'mask' input") +
                                  "; it is scored per event (strategy 'per-event' or 'auto'), not in batches");
      auto &s = *fState;
      s.core.model = std::move(model);
      s.core.columns = std::move(columns);
      s.core.maxObjects = maxObjects;
      s.core.options = std::move(options);
      s.cursor = std::move(cursor);
      s.batchSize = batchSize;
      s.slots.resize(s.cursor->slots.size());
   }

   void operator()(unsigned slot, ULong64_t entry, const Cols &...cols) const
   {
      auto &s = *fState;
      auto &where = s.cursor->slot(slot);
      Slot &sl = detail::slotAt(s.slots, slot);
      const std::size_t n = detail::setLength(s.core, entry, cols...);
      const std::size_t P = s.core.maxObjects > 0 ? std::min(n, s.core.maxObjects) : n;
      const std::size_t at = sl.objects.size();
      sl.objects.resize(at + P * s.core.model->nFeatures());
      std::size_t f = 0;
      (detail::fillSetColumn(s.core, sl.objects.data() + at, f++, P, entry, cols), ...);
      sl.counts.push_back(P);
      sl.keys.emplace_back(where.task, where.current);
      if (sl.keys.size() == s.batchSize)
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
      const std::size_t n = sl.keys.size();
      if (n == 0)
         return;
      const Model &model = *fState->core.model;
      const std::size_t F = model.nFeatures();
      const std::size_t P = std::max<std::size_t>(1, *std::max_element(sl.counts.begin(), sl.counts.end()));
      sl.padded.assign(n * P * F, 0.f);
      sl.mask.assign(n * P, 0.f);
      sl.out.resize(n * model.nScores());
      const float *from = sl.objects.data();
      for (std::size_t i = 0; i < n; ++i) {
         std::copy(from, from + sl.counts[i] * F, sl.padded.begin() + static_cast<std::ptrdiff_t>(i * P * F));
         std::fill_n(sl.mask.begin() + static_cast<std::ptrdiff_t>(i * P), sl.counts[i], 1.f);
         from += sl.counts[i] * F;
      }
      model.evaluateSet(sl.padded.data(), sl.mask.data(), n, P, sl.out.data());
      auto &table = *fState->cursor->table;
      for (std::size_t i = 0; i < n; ++i)
         table.store(sl.keys[i].first, sl.keys[i].second, sl.out.data() + i * model.nScores());
      sl.objects.clear();
      sl.counts.clear();
      sl.keys.clear();
   }

   std::shared_ptr<State> fState;
};

namespace detail {

/// Why `branch` cannot be read by the streamed set path ("" when it can): it must be one leaf
/// holding a variable-length array of numbers with a count branch, as NanoAOD's Jet_pt[nJet]
/// and the files uproot writes from jagged arrays (std::vector branches are scored per event).
inline std::string whyNotJagged(TBranch &branch)
{
   auto *leaves = branch.GetListOfLeaves();
   auto *leaf = leaves && leaves->GetEntries() == 1 ? static_cast<TLeaf *>(leaves->At(0)) : nullptr;
   if (!leaf || !leaf->GetLeafCount() || leaf->GetLenStatic() != 1 || branch.GetListOfBranches()->GetEntries())
      return "is not a variable-length array of numbers with a count branch (such as Jet_pt[nJet])";
   std::string why;
   return TreeBlockReader::typeConverter(leaf->GetTypeName(), why) ? std::string() : why;
}

/// Reads jagged branches (whyNotJagged) of one tree, entry by entry (TBranch::GetEntry into the
/// leaf's own buffer, sized by ROOT to the count branch's maximum), converted to float.
class JaggedReader {
public:
   /// `sample` is RSampleInfo::AsString(): "<file name>/<tree path>".
   JaggedReader(const std::string &sample, const std::vector<std::string> &columns) : fFile(sample, {})
   {
      for (const auto &name : columns) {
         TBranch *branch = fFile.tree().GetBranch(name.c_str());
         const std::string why = branch ? whyNotJagged(*branch) : "is not a branch";
         if (!why.empty())
            throw ConfigurationError("hepsift: column '" + name + "' of " + sample + " " + why +
                                     "; score the set model per event (strategy 'per-event')");
         auto *leaf = static_cast<TLeaf *>(branch->GetListOfLeaves()->At(0));
         std::string unused;
         fColumns.push_back({branch, leaf, TreeBlockReader::typeConverter(leaf->GetTypeName(), unused)});
      }
   }

   const std::string &sample() const { return fFile.sample(); }
   Long64_t entries() const { return fFile.entries(); }

   /// Reads entry `e` of every column; returns the number of values of column 0, and in
   /// `mismatch` the first column whose number differs (0: none) and that number.
   std::size_t read(Long64_t e, std::size_t &mismatch, std::size_t &other)
   {
      mismatch = 0;
      std::size_t n0 = 0;
      for (std::size_t j = 0; j < fColumns.size(); ++j) {
         Column &c = fColumns[j];
         if (c.branch->GetEntry(e) < 0)
            throw EvaluationError("hepsift: branch '" + std::string(c.branch->GetName()) + "' of " + sample() +
                                  " could not be read at entry " + std::to_string(e));
         const auto n = static_cast<std::size_t>(c.leaf->GetLen());
         if (j == 0)
            n0 = n;
         else if (n != n0 && mismatch == 0) {
            mismatch = j;
            other = n;
         }
      }
      return n0;
   }

   /// Value p of column j of the entry last read (p below the number read() returned).
   float value(std::size_t j, std::size_t p) const
   {
      const Column &c = fColumns[j];
      return c.convert(static_cast<const char *>(c.leaf->GetValuePointer()), p);
   }

private:
   struct Column {
      TBranch *branch;
      TLeaf *leaf;
      TreeBlockReader::Convert convert;
   };
   TreeBlockReader fFile; // opens the file and the tree (no scalar columns)
   std::vector<Column> fColumns;
};

/// Per-slot block of a streamed set score: the events of positions [blockFirst, blockFirst +
/// blockN) of the task, their scores, and the messages of entries that cannot be scored.
struct SetStreamSlot {
   std::unique_ptr<JaggedReader> reader;
   ULong64_t first = 0, end = 0; // the task's entry range in the tree
   ULong64_t offset = 0;         // chain entry of the tree's entry 0 (ByEntry)
   ULong64_t blockFirst = 0;     // the block: tree entries [blockFirst, blockFirst + blockN)
   std::size_t blockN = 0;
   std::vector<std::uint32_t> counts, kept; // objects per event, and those scored (maxObjects)
   std::vector<std::size_t> start;           // first object of each event in `objects`
   std::vector<float> objects;               // the kept objects of the block, event after event
   std::vector<float> scores;                // nScores per event, or one per kept object
   std::vector<std::size_t> order;           // events sorted by kept objects
   std::vector<float> group, mask, out;      // one model call
   struct Bad {
      bool nonFinite;   // else: columns of different lengths
      std::string text; // the column (non-finite) or the message
      float value;
   };
   std::map<std::size_t, Bad> bad; // events of the block that cannot be scored
};

/// A streamed set score: per slot, the block of its task's next `batchSize` events is read from
/// the tree and evaluated grouped by equal numbers of objects (no padding enters the model).
struct SetStreamState : TaskRanges {
   SetState core;
   std::size_t batchSize = kDefaultBatchSize;
   std::vector<SetStreamSlot> slots;
   std::shared_ptr<TaskPositions> positions;

   SetStreamSlot &slot(unsigned s) { return slotAt(slots, s); }

   /// Slot `s` starts a task: a range of consecutive entries of one tree (RSampleInfo).
   void start(unsigned s, const ROOT::RDF::RSampleInfo &info)
   {
      startTask<JaggedReader>(slot(s), positions->slot(s), info, core.columns);
   }

   /// The name of event i of the block in messages: its entry in the tree, and the tree.
   std::string entryName(const SetStreamSlot &sl, std::size_t i) const
   {
      return std::to_string(sl.blockFirst + i) + " of " + sl.reader->sample();
   }

   /// Reads and scores the block of slot `sl` starting at tree entry `first`.
   void fill(SetStreamSlot &sl, ULong64_t first)
   {
      const Model &model = *core.model;
      const std::size_t F = model.nFeatures();
      const std::size_t n = std::min<std::size_t>(batchSize, sl.end - first);
      sl.blockFirst = first;
      sl.blockN = n;
      sl.counts.resize(n);
      sl.kept.resize(n);
      sl.start.resize(n);
      sl.objects.clear();
      sl.bad.clear();
      for (std::size_t i = 0; i < n; ++i) {
         std::size_t mismatch = 0, other = 0;
         const std::size_t count = sl.reader->read(static_cast<Long64_t>(first + i), mismatch, other);
         const std::size_t keep = core.maxObjects > 0 ? std::min(count, core.maxObjects) : count;
         sl.counts[i] = static_cast<std::uint32_t>(count);
         sl.kept[i] = static_cast<std::uint32_t>(keep);
         sl.start[i] = sl.objects.size();
         if (mismatch) {
            sl.bad[i] = {false, lengthMismatch(core, mismatch, count, other, entryName(sl, i)), 0.f};
            sl.kept[i] = 0;
            continue;
         }
         sl.objects.resize(sl.start[i] + keep * F);
         float *o = sl.objects.data() + sl.start[i];
         for (std::size_t j = 0; j < F; ++j)
            for (std::size_t p = 0; p < keep; ++p)
               o[p * F + j] = sl.reader->value(j, p);
         // One bulk test per event (firstNonFinite); a value test per copy costs more in cling.
         if (core.options.checkFinite) {
            const std::size_t at = firstNonFinite(o, keep * F);
            if (at < keep * F)
               sl.bad[i] = {true, core.names()[at % F] + "[" + std::to_string(at / F) + "]", o[at]};
         }
      }
      // Events grouped by their number of kept objects: one model call per group (and chunk).
      sl.order.resize(n);
      for (std::size_t i = 0; i < n; ++i)
         sl.order[i] = i;
      std::stable_sort(sl.order.begin(), sl.order.end(),
                       [&sl](std::size_t a, std::size_t b) { return sl.kept[a] < sl.kept[b]; });
      const std::size_t width = model.perObject() ? 0 : model.nScores();
      std::size_t perObjectSize = 0;
      for (std::size_t i = 0; i < n; ++i)
         perObjectSize += sl.kept[i];
      sl.scores.assign(model.perObject() ? perObjectSize : n * width, std::numeric_limits<float>::quiet_NaN());
      std::vector<std::size_t> at; // per-object scores: first score of each event
      if (model.perObject()) {
         at.resize(n);
         for (std::size_t i = 0, k = 0; i < n; k += sl.kept[i], ++i)
            at[i] = k;
      }
      const std::size_t budget = std::max<std::size_t>(model.chunk() == 0 ? sl.objects.size() : model.chunk(), 1);
      for (std::size_t g = 0; g < n;) {
         const std::size_t P = sl.kept[sl.order[g]];
         std::size_t h = g;
         while (h < n && sl.kept[sl.order[h]] == P)
            ++h;
         // Skip the events that are not scored (bad); an empty group is one zero object, mask 0.
         if (P == 0 && (model.perObject() || !model.masked())) {
            g = h;
            continue;
         }
         const std::size_t rows = std::max<std::size_t>(P, 1);
         const std::size_t maxEvents = std::max<std::size_t>(budget / rows, 1);
         for (std::size_t c = g; c < h;) {
            std::size_t m = 0;
            sl.group.resize(std::min(h - c, maxEvents) * rows * F);
            std::size_t d = c;
            for (; d < h && m < maxEvents; ++d) {
               const std::size_t i = sl.order[d];
               if (sl.bad.count(i))
                  continue;
               if (P == 0)
                  std::fill_n(sl.group.data() + m * F, F, 0.f);
               else
                  std::copy_n(sl.objects.data() + sl.start[i], P * F, sl.group.data() + m * P * F);
               sl.order[c + m] = i; // the scored events of this call, in call order
               ++m;
            }
            if (m > 0) {
               sl.mask.assign(m * rows, P == 0 ? 0.f : 1.f);
               sl.out.resize(m * (model.perObject() ? rows : width));
               model.evaluateSet(sl.group.data(), sl.mask.data(), m, rows, sl.out.data());
               for (std::size_t k = 0; k < m; ++k) {
                  const std::size_t i = sl.order[c + k];
                  if (model.perObject())
                     std::copy_n(sl.out.data() + k * P, P, sl.scores.data() + at[i]);
                  else
                     std::copy_n(sl.out.data() + k * width, width, sl.scores.data() + i * width);
               }
            }
            c = d;
         }
         g = h;
      }
      if (model.perObject())
         sl.start.swap(at); // serve per-object scores from their first score
   }

   /// Slot `s`'s block holding its current entry (read and scored when needed), and the
   /// entry's index in the block; throws for an entry that cannot be scored.
   std::pair<SetStreamSlot *, std::size_t> current(unsigned s, ULong64_t entry)
   {
      SetStreamSlot &sl = slot(s);
      if (!sl.reader)
         throw EvaluationError("hepsift: the streamed set score was evaluated outside a sample");
      const ULong64_t local =
         treeEntry(entry, sl.offset, sl.first, sl.end, positions->slot(s).current, sl.reader->sample());
      if (local < sl.blockFirst || local >= sl.blockFirst + sl.blockN) {
         if (local >= sl.end)
            throw EvaluationError("hepsift: the streamed score reached entry " + std::to_string(local) +
                                  " beyond the end " + std::to_string(sl.end) + " of its range in " +
                                  sl.reader->sample() + "; use strategy 'per-event'");
         fill(sl, local);
      }
      const std::size_t i = local - sl.blockFirst;
      if (!sl.bad.empty()) {
         auto it = sl.bad.find(i);
         if (it != sl.bad.end()) {
            if (!it->second.nonFinite)
               throw EvaluationError(it->second.text);
            throwNonFinite(it->second.text, it->second.value, entryName(sl, i), *core.model);
         }
      }
      const Model &model = *core.model;
      if (sl.kept[i] == 0 && !model.masked() && !model.perObject())
         throw EvaluationError(emptySet(core, entryName(sl, i)));
      return {&sl, i};
   }
};

} // namespace detail

/// Defines column `name` with the scores of set model `model` streamed in blocks of
/// `batchSize` events (see whyNotStreamable with detail::whyNotJagged for where this applies:
/// the RDataFrame itself over a TTree, `columns` jagged branches of the tree). Each slot reads
/// the next block of its task from the tree and evaluates it grouped by equal numbers of
/// objects (one model call per group, in calls of at most Model::chunk() objects): no padding
/// enters the model, so models without a mask are batched too. Memory: one block per slot.
/// The value served: as for DefineSetScore.
inline ROOT::RDF::RNode DefineSetStreamed(ROOT::RDF::RNode df, std::string_view name,
                                          std::shared_ptr<const Model> model, const std::vector<std::string> &columns,
                                          std::size_t maxObjects = 0, std::size_t batchSize = kDefaultBatchSize,
                                          ScorerOptions options = ScorerOptions())
{
   if (!model)
      throw ConfigurationError("hepsift::DefineSetStreamed: no model given");
   if (batchSize == 0)
      throw ConfigurationError("hepsift: batch size must be at least 1");
   if (model->inputKind() != "set")
      throw InputMismatchError("hepsift: model '" + model->path() + "' takes " + model->inputKind() +
                               " inputs, not sets of objects; score it with hepsift::DefineScore");
   if (columns.size() != model->nFeatures())
      throw InputMismatchError("hepsift: set model '" + model->path() + "' takes " +
                               std::to_string(model->nFeatures()) + " features per object but " +
                               std::to_string(columns.size()) + " columns were given");
   const std::string why = whyNotStreamable(df, columns, options.labels, &detail::whyNotJagged);
   if (!why.empty())
      throw ConfigurationError("hepsift: streamed set scoring cannot score '" + std::string(name) + "': " + why +
                               "; use strategy 'per-event' or 'auto'");
   auto counted = detail::CountingFilters::instance().find(detail::NodeAccess::of(df));
   auto state = std::make_shared<detail::SetStreamState>();
   state->core.model = model;
   state->core.columns = columns;
   state->core.maxObjects = maxObjects;
   state->core.options = std::move(options);
   state->batchSize = batchSize;
   state->slots.resize(std::max(1u, df.GetNSlots()));
   state->positions = counted;
   if (!state->positions) {
      state->positions = std::make_shared<detail::TaskPositions>();
      state->positions->slots.resize(std::max(1u, df.GetNSlots()));
   }
   state->source = detail::LoopManagerAccess::of(df)->GetDataSource();
   state->placement = detail::placementFor(df, counted != nullptr);
   state->chain = detail::chainFiles(df);
   auto node = detail::streamedTaskNode(df, name,
                                        !counted && state->placement == detail::StreamPlacement::ByCounting,
                                        state->positions, [state](unsigned slot, const ROOT::RDF::RSampleInfo &info) {
                                           state->start(slot, info);
                                        });
   if (model->perObject())
      return node.DefineSlotEntry(name, [state](unsigned slot, ULong64_t entry) {
         auto [sl, i] = state->current(slot, entry);
         ROOT::VecOps::RVec<float> r(sl->counts[i], std::numeric_limits<float>::quiet_NaN());
         std::copy_n(sl->scores.data() + sl->start[i], sl->kept[i], r.begin());
         return r;
      });
   const std::size_t width = model->nScores();
   return detail::defineScores(node, name, width, [state, width](unsigned slot, ULong64_t entry) {
      auto [sl, i] = state->current(slot, entry);
      return static_cast<const float *>(sl->scores.data() + i * width);
   });
}

/// The one rule of hepsift::chooseStrategy for a set model scored from `columns`: streamed
/// (DefineSetStreamed) wherever whyNotStreamable holds with jagged branches of the tree,
/// elsewhere per event, or in two passes with a batch size above 1 for a masked model with a
/// score per event (the only ones two passes can pad). A model without a mask or with a
/// per-object score refuses "two-pass".
inline Choice chooseSetStrategy(const ROOT::RDF::RNode &df, const Model &model,
                                const std::vector<std::string> &columns, Strategy requested, std::size_t batchSize,
                                const std::vector<std::string> &labels = {})
{
   const bool batchable = model.masked() && !model.perObject();
   if (requested == Strategy::TwoPass && !batchable)
      throw ConfigurationError("hepsift: set model '" + model.path() + "' cannot be scored in two passes " +
                               (model.perObject() ? "(it gives a score per object)" : "(it has no 'mask' input)") +
                               ": two passes pad events with mask 0; use strategy 'auto', 'stream' or 'per-event'");
   Choice c = chooseStrategy(df, columns, requested, batchSize, labels, &detail::whyNotJagged);
   if (c.strategy == Strategy::TwoPass && !batchable) {
      c.strategy = Strategy::PerEvent;
      c.batchSize = 1;
   }
   return c;
}

/// Defines column `name` on `df` with the score of set model `model` on the RVec `columns`
/// (types Cols...): a float for one score per event, ROOT::RVec<float> for several or per
/// object. `maxObjects` > 0 keeps the first objects of each event (collection order).
///
/// The path is chooseSetStrategy's (the rule of hepsift::chooseStrategy): streamed
/// (DefineSetStreamed, blocks of `batchSize` events, default kDefaultBatchSize) where the
/// columns are jagged branches of the tree read by the RDataFrame itself; elsewhere per event,
/// or with strategy "two-pass" (or "auto" with a batch size above 1) a masked model with a score
/// per event is evaluated `batchSize` events per call, padded to the longest event of each
/// batch with mask 0. A model without a mask or with a per-object score refuses "two-pass".
template <typename... Cols>
ROOT::RDF::RNode DefineSetScore(ROOT::RDF::RNode df, std::string_view name, std::shared_ptr<const Model> model,
                                const std::vector<std::string> &columns, std::size_t maxObjects = 0,
                                Strategy strategy = Strategy::Auto, std::size_t batchSize = 0,
                                ScorerOptions options = ScorerOptions())
{
   if (!model)
      throw ConfigurationError("hepsift::DefineSetScore: no model given");
   const Choice c = chooseSetStrategy(df, *model, columns, strategy, batchSize, options.labels);
   if (c.strategy == Strategy::Stream)
      return DefineSetStreamed(df, name, model, columns, maxObjects, c.batchSize, options);
   if (c.strategy == Strategy::TwoPass)
      return detail::batchedScore(df, name, model, columns, nullptr, [&](std::shared_ptr<detail::BatchCursor> cursor) {
         return SetBatchCollector<Cols...>(model, std::move(cursor), columns, c.batchSize, maxObjects, options);
      });
   if (model->perObject() || model->nScores() > 1)
      return df.DefineSlotEntry(name, MultiSetScorer<Cols...>(model, df.GetNSlots(), columns, maxObjects, options),
                                columns);
   return df.DefineSlotEntry(name, SetScorer<Cols...>(model, df.GetNSlots(), columns, maxObjects, options), columns);
}

// ---- grouped sets: the constituents of every jet ---------------------------------------------
namespace detail {

/// The number of jets of an event: the size of an RVec column of the jet collection, or an
/// integer count column (nFatJet).
template <typename Jets>
long long jetCount(const Jets &jets)
{
   if constexpr (IsRVec<std::decay_t<Jets>>::value)
      return static_cast<long long>(jets.size());
   else
      return static_cast<long long>(jets);
}

/// Copies the kept values of one column (feature `f`) to their rows of `objects` (rows[p] < 0:
/// object p is not kept).
template <typename Vec>
void fillGroupedColumn(const SetState &s, float *objects, std::size_t f, const std::vector<std::ptrdiff_t> &rows,
                       ULong64_t entry, const Vec &col)
{
   const std::size_t F = s.model->nFeatures();
   for (std::size_t p = 0; p < rows.size(); ++p) {
      if (rows[p] < 0)
         continue;
      const float v = static_cast<float>(col[p]);
      if (s.options.checkFinite && !std::isfinite(v))
         throwNonFinite(s.names()[f] + "[" + std::to_string(p) + "]", v, std::to_string(entry), *s.model);
      objects[static_cast<std::size_t>(rows[p]) * F + f] = v;
   }
}

} // namespace detail

/// Per-event scorer of a grouped set model (see the top of this file): called with (slot,
/// entry, index, jets, constituent columns...), returns one score per jet.
template <typename Index, typename Jets, typename... Cols>
class GroupedSetScorer {
   static_assert(sizeof...(Cols) > 0, "hepsift::GroupedSetScorer needs at least one constituent column");
   static_assert((detail::IsRVec<std::decay_t<Cols>>::value && ...),
                 "hepsift::GroupedSetScorer constituent columns are ROOT::RVec columns, one per feature");
   static_assert(detail::IsRVec<std::decay_t<Index>>::value &&
                    std::is_integral_v<typename std::decay_t<Index>::value_type>,
                 "hepsift::GroupedSetScorer: the index column is a ROOT::RVec of integers (the jet of each object)");
   static_assert(detail::IsRVec<std::decay_t<Jets>>::value || std::is_integral_v<std::decay_t<Jets>>,
                 "hepsift::GroupedSetScorer: the jets are an RVec column of the jet collection or an integer count");

   struct Slot {
      std::vector<float> objects, mask, out;
      std::vector<std::size_t> counts;
      std::vector<std::ptrdiff_t> rows; // per object: its rank in its jet, then its row of `objects`; -1 not kept
   };
   struct State {
      detail::SetState core;
      std::string index, jets;
      std::vector<Slot> slots;
   };

public:
   GroupedSetScorer(std::shared_ptr<const Model> model, unsigned nSlots, std::vector<std::string> columns,
                    std::string index, std::string jets, std::size_t maxObjects = 0,
                    ScorerOptions options = ScorerOptions())
      : fState(std::make_shared<State>())
   {
      if (!model)
         throw ConfigurationError("hepsift::GroupedSetScorer: no model given");
      auto &s = *fState;
      s.core.model = std::move(model);
      s.core.columns = std::move(columns);
      s.core.maxObjects = maxObjects;
      s.core.options = std::move(options);
      s.index = std::move(index);
      s.jets = std::move(jets);
      const Model &m = *s.core.model;
      if (m.inputKind() != "grouped-set")
         throw InputMismatchError("hepsift: model '" + m.path() + "' takes " + m.inputKind() +
                                  " inputs, not the objects of every jet [batch, J, P, F]; score it with " +
                                  (m.inputKind() == "set" ? "hepsift::DefineSetScore" : "hepsift::DefineScore"));
      if (s.core.columns.size() != sizeof...(Cols))
         throw ConfigurationError("hepsift::GroupedSetScorer: " + std::to_string(sizeof...(Cols)) +
                                  " column types but " + std::to_string(s.core.columns.size()) + " column names");
      if (s.core.columns.size() != m.nFeatures())
         throw InputMismatchError("hepsift: grouped set model '" + m.path() + "' takes " +
                                  std::to_string(m.nFeatures()) + " features per object but " +
                                  std::to_string(s.core.columns.size()) + " columns were given (" +
                                  s.core.joinedNames() + ")");
      s.slots.resize(nSlots == 0 ? 1 : nSlots);
   }

   ROOT::VecOps::RVec<float> operator()(unsigned slot, ULong64_t entry, const Index &index, const Jets &jets,
                                        const Cols &...cols) const
   {
      auto &s = *fState;
      const Model &model = *s.core.model;
      Slot &sl = detail::slotAt(s.slots, slot);
      const std::size_t n = detail::setLength(s.core, entry, cols...);
      if (static_cast<std::size_t>(index.size()) != n)
         throw EvaluationError("hepsift: the index column '" + s.index + "' (" + std::to_string(index.size()) +
                               " values) and the set column '" + s.core.names()[0] + "' (" + std::to_string(n) +
                               " values) differ in length at entry " + std::to_string(entry) + " (model '" +
                               model.path() + "'); the index gives the jet of each object of that collection");
      const long long nJets = detail::jetCount(jets);
      if (nJets < 0)
         throw EvaluationError("hepsift: the jet count '" + s.jets + "' is " + std::to_string(nJets) + " at entry " +
                               std::to_string(entry) + " (model '" + model.path() + "')");
      const auto J = static_cast<std::size_t>(nJets);
      sl.counts.assign(J, 0);
      sl.rows.assign(n, -1);
      std::size_t P = 1;
      for (std::size_t p = 0; p < n; ++p) {
         const auto j = static_cast<long long>(index[p]);
         if (j < -1 || j >= nJets)
            throw EvaluationError("hepsift: object " + std::to_string(p) + " of entry " + std::to_string(entry) +
                                  " has '" + s.index + "' = " + std::to_string(j) + " but the event has " +
                                  std::to_string(nJets) + " jets ('" + s.jets + "'; model '" + model.path() +
                                  "'); the index must be -1 (in no jet) or the position of one of the event's "
                                  "jets in their collection");
         if (j < 0)
            continue;
         std::size_t &c = sl.counts[static_cast<std::size_t>(j)];
         if (s.core.maxObjects > 0 && c >= s.core.maxObjects)
            continue;
         sl.rows[p] = static_cast<std::ptrdiff_t>(c++);
         P = std::max(P, c);
      }
      if (J == 0)
         return {};
      const std::size_t F = model.nFeatures();
      sl.objects.assign(J * P * F, 0.f);
      sl.mask.assign(J * P, 0.f);
      sl.out.resize(J);
      for (std::size_t p = 0; p < n; ++p)
         if (sl.rows[p] >= 0) {
            sl.rows[p] += static_cast<std::ptrdiff_t>(static_cast<std::size_t>(index[p]) * P);
            sl.mask[static_cast<std::size_t>(sl.rows[p])] = 1.f;
         }
      std::size_t f = 0;
      (detail::fillGroupedColumn(s.core, sl.objects.data(), f++, sl.rows, entry, cols), ...);
      model.evaluateGroupedSet(sl.objects.data(), sl.mask.data(), 1, J, P, sl.out.data());
      return ROOT::VecOps::RVec<float>(sl.out.begin(), sl.out.end());
   }

   const Model &model() const { return *fState->core.model; }

private:
   std::shared_ptr<State> fState;
};

/// Defines column `name` on `df`: the ROOT::RVec<float> of per-jet scores of grouped set model
/// `model` (Model::inputKind() == "grouped-set"), aligned with the jet collection. `columns`
/// are the constituent columns (types Cols...), `index` the column (type Index, an RVec of
/// integers) with each constituent's jet (-1: none), `jets` an RVec column of the jet
/// collection (its size is the number of jets) or an integer count column (type Jets).
/// `maxObjects` > 0 keeps the first constituents of each jet (collection order). Scored per
/// event ("auto" or "per-event"); "stream" and "two-pass" are refused.
template <typename Index, typename Jets, typename... Cols>
ROOT::RDF::RNode DefineGroupedSetScore(ROOT::RDF::RNode df, std::string_view name, std::shared_ptr<const Model> model,
                                       const std::vector<std::string> &columns, const std::string &index,
                                       const std::string &jets, std::size_t maxObjects = 0,
                                       Strategy strategy = Strategy::Auto, ScorerOptions options = ScorerOptions())
{
   if (!model)
      throw ConfigurationError("hepsift::DefineGroupedSetScore: no model given");
   if (strategy != Strategy::Auto && strategy != Strategy::PerEvent)
      throw ConfigurationError("hepsift: grouped set model '" + model->path() + "' is scored per event (strategy '" +
                               strategyName(strategy) + "' does not apply to it); use strategy 'auto' or 'per-event'");
   std::vector<std::string> all{index, jets};
   all.insert(all.end(), columns.begin(), columns.end());
   return df.DefineSlotEntry(
      name, GroupedSetScorer<Index, Jets, Cols...>(model, df.GetNSlots(), columns, index, jets, maxObjects, options),
      all);
}

} // namespace hepsift

#endif
