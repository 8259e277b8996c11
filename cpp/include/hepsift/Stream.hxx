// Streaming batched scoring for RDataFrame over TTrees: one event loop, many events per model
// call, memory independent of the number of events.
//
//   auto model = std::make_shared<const hepsift::Model>("model.onnx");
//   ROOT::RDataFrame df("Events", files);
//   auto scored = hepsift::DefineStreamed(df, "score", model, {"x0", "x1"}, 4096);
//   // scored.Histo1D("score"), Filter("score > 0.9"), Snapshot(...) as usual
//
//   // or, on any node, the path chosen by the one rule (hepsift::chooseStrategy, below):
//   auto scored = hepsift::DefineScore<float, float>(df, "score", model, {"x0", "x1"});
//
// How: RDataFrame processes a TTree in tasks, each a range of consecutive entries of one tree
// (RSampleInfo: file, tree, entry range, in the tree's own numbering). When the score of an
// entry is first needed, the slot reads the model inputs of the next `batchSize` entries of
// its task directly from the file (ROOT's bulk I/O: one call per basket and branch instead of
// one per entry), evaluates them in one model call, and serves the following entries from
// that block. The slot knows which entry of the tree it is on from rdfentry_ in a
// single-threaded loop (there it is the entry number in the chain: minus the entries of the
// trees before, from the TChain's list of files); under ImplicitMT rdfentry_ is a running count
// over tasks, and a pass-through Filter node named "hepsift" counts the entries of each task.
//
// This needs every entry of the tree range to reach the score node, and the inputs to be
// scalar branches of the tree itself: define the score on the RDataFrame itself (no Filter or
// Range before it; right after another streamed score is fine, under ImplicitMT it reuses that
// one's counting Filter), on columns of the tree (not Defines, not friend trees, no systematic variations). Elsewhere use
// hepsift::DefineBatched (two passes) or the per-event Scorer. A branch ROOT cannot read in
// bulk (several leaves, old basket layout) is read entry by entry, with the same result.
#ifndef HEPSIFT_STREAM_HXX
#define HEPSIFT_STREAM_HXX

#include "hepsift/Batch.hxx"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RTTreeDS.hxx>
#include <TBranch.h>
#include <TBufferFile.h>
#include <TChain.h>
#include <TChainElement.h>
#include <TFile.h>
#include <TLeaf.h>
#include <TROOT.h>
#include <TSystem.h>
#include <TTree.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace hepsift {

namespace detail {

/// Reads scalar arithmetic branches of one tree, converted to float, block by block.
class TreeBlockReader {
public:
   /// `sample` is RSampleInfo::AsString(): "<file name>/<tree path>".
   TreeBlockReader(const std::string &sample, const std::vector<std::string> &columns) : fSample(sample)
   {
      open(sample);
      for (const auto &c : columns)
         fColumns.push_back(column(c));
   }

   const std::string &sample() const { return fSample; }

   /// Writes the inputs of entries [first, first + n) to out[k * stride + j] (j: column).
   void read(Long64_t first, std::size_t n, float *out, std::size_t stride)
   {
      for (std::size_t j = 0; j < fColumns.size(); ++j) {
         Column &c = fColumns[j];
         std::size_t done = 0;
         while (done < n) {
            const Long64_t e = first + static_cast<Long64_t>(done);
            if (!c.bulk) {
               if (c.branch->GetEntry(e) <= 0)
                  fail(c, e, "could not be read");
               out[done * stride + j] = c.convert(c.scratch, 0);
               ++done;
               continue;
            }
            if (e < c.blockFirst || e >= c.blockFirst + c.blockN)
               loadBasket(c, e);
            const std::size_t take =
               std::min<std::size_t>(n - done, static_cast<std::size_t>(c.blockFirst + c.blockN - e));
            const std::size_t offset = static_cast<std::size_t>(e - c.blockFirst);
            float *o = out + done * stride + j;
            if (c.convert == &as<float>) { // the common case, without a call per value
               const char *p = c.data + offset * sizeof(float);
               for (std::size_t k = 0; k < take; ++k, p += sizeof(float))
                  std::memcpy(o + k * stride, p, sizeof(float));
            } else {
               for (std::size_t k = 0; k < take; ++k)
                  o[k * stride] = c.convert(c.data, offset + k);
            }
            done += take;
         }
      }
   }

   const std::string &columnName(std::size_t j) const { return fColumns[j].name; }
   Long64_t entries() const { return fTree->GetEntries(); }
   /// The tree of the sample, owned by this reader (one with no columns just opens it).
   TTree &tree() const { return *fTree; }

   using Convert = float (*)(const char *, std::size_t);

   /// The conversion to float of a scalar arithmetic branch; null (and `why`) otherwise.
   static Convert converter(TBranch &branch, std::string &why)
   {
      auto *leaves = branch.GetListOfLeaves();
      auto *leaf = leaves && leaves->GetEntries() == 1 ? static_cast<TLeaf *>(leaves->At(0)) : nullptr;
      if (!leaf || leaf->GetLeafCount() || leaf->GetLenStatic() != 1 || branch.GetListOfBranches()->GetEntries()) {
         why = "is not a scalar branch";
         return nullptr;
      }
      return typeConverter(leaf->GetTypeName(), why);
   }

   /// The conversion to float of one value of ROOT type `type` ("Float_t", "Int_t", ...); null
   /// (and `why`) for a type that is not arithmetic.
   static Convert typeConverter(const std::string &type, std::string &why)
   {
      if (type == "Float_t") return &as<float>;
      if (type == "Double_t") return &as<double>;
      if (type == "Int_t") return &as<Int_t>;
      if (type == "UInt_t") return &as<UInt_t>;
      if (type == "Long64_t" || type == "Long_t") return &as<Long64_t>;
      if (type == "ULong64_t" || type == "ULong_t") return &as<ULong64_t>;
      if (type == "Short_t") return &as<Short_t>;
      if (type == "UShort_t") return &as<UShort_t>;
      if (type == "Char_t") return &as<Char_t>;
      if (type == "UChar_t") return &as<UChar_t>;
      if (type == "Bool_t") return &as<Bool_t>;
      why = "has type " + type;
      return nullptr;
   }

private:
   template <typename T>
   static float as(const char *p, std::size_t k)
   {
      T v;
      std::memcpy(&v, p + k * sizeof(T), sizeof(T));
      return static_cast<float>(v);
   }

   struct Column {
      std::string name;
      TBranch *branch = nullptr;
      Convert convert = nullptr;
      bool bulk = true;
      std::unique_ptr<TBufferFile> buffer;
      const char *data = nullptr;
      Long64_t blockFirst = 0, blockN = 0;
      alignas(8) char scratch[8] = {};
   };

   [[noreturn]] void fail(const Column &c, Long64_t entry, const std::string &what) const
   {
      throw EvaluationError("hepsift: branch '" + c.name + "' of " + fSample + " " + what + " at entry " +
                            std::to_string(entry));
   }

   void open(const std::string &sample)
   {
      // Split "<file>/<tree path>": the file is the longest prefix that opens and holds the tree.
      for (auto slash = sample.rfind('/'); slash != std::string::npos && slash > 0;
           slash = sample.rfind('/', slash - 1)) {
         const std::string file = sample.substr(0, slash);
         const std::string tree = sample.substr(slash + 1);
         if (file.find("://") == std::string::npos && gSystem->AccessPathName(file.c_str()))
            continue; // not an existing local path
         std::unique_ptr<TFile> f(TFile::Open(file.c_str(), "READ"));
         if (!f || f->IsZombie())
            continue;
         if (auto *t = f->Get<TTree>(tree.c_str())) {
            fFile = std::move(f);
            fTree = t;
            return;
         }
      }
      throw ConfigurationError("hepsift: streamed batched scoring cannot open the tree of sample '" + sample +
                               "' (an in-memory tree?); use the two-pass batched path (strategy='two-pass')");
   }

   Column column(const std::string &name)
   {
      Column c;
      c.name = name;
      c.branch = fTree->GetBranch(name.c_str());
      if (!c.branch)
         throw ConfigurationError("hepsift: column '" + name + "' is not a branch of " + fSample +
                                  " (a friend tree's or a Define's?); use the two-pass batched path "
                                  "(strategy='two-pass')");
      std::string why;
      c.convert = converter(*c.branch, why);
      if (!c.convert)
         throw ConfigurationError("hepsift: branch '" + name + "' of " + fSample + " " + why +
                                  "; use the two-pass batched path (strategy='two-pass')");
      c.buffer = std::make_unique<TBufferFile>(TBuffer::kWrite, 32 * 1024);
      return c;
   }

   /// Loads the basket holding entry e (bulk read); switches the column to entry-by-entry
   /// reading when ROOT cannot read it in bulk.
   void loadBasket(Column &c, Long64_t e)
   {
      const Long64_t *starts = c.branch->GetBasketEntry();
      const Int_t nBaskets = c.branch->GetWriteBasket();
      Int_t b = -1;
      if (starts && nBaskets > 0) {
         const Long64_t *it = std::upper_bound(starts, starts + nBaskets, e);
         b = static_cast<Int_t>(it - starts) - 1;
      }
      Int_t got = b >= 0 ? c.branch->GetBulkRead().GetBulkEntries(starts[b], *c.buffer) : -1;
      if (got <= 0 || e >= starts[b] + got) {
         c.bulk = false;
         c.branch->SetAddress(c.scratch);
         c.blockN = 0;
         if (c.branch->GetEntry(e) <= 0)
            fail(c, e, "could not be read");
         return;
      }
      c.data = c.buffer->GetCurrent();
      c.blockFirst = starts[b];
      c.blockN = got;
   }

   std::string fSample;
   std::unique_ptr<TFile> fFile;
   TTree *fTree = nullptr;
   std::vector<Column> fColumns;
};

/// Whether a data source reads a global entry range (RDataSource::fGlobalEntryRange is
/// protected): its tasks then give entry ranges in the numbering of the whole chain.
struct GlobalRangeAccess : ROOT::RDF::RDataSource {
   static bool of(const ROOT::RDF::RDataSource &ds)
   {
      auto member = &GlobalRangeAccess::fGlobalEntryRange;
      return (ds.*member).has_value();
   }
};

/// Reaches the data source of a data frame (RInterfaceBase::GetLoopManager is protected).
struct LoopManagerAccess : ROOT::RDF::RInterfaceBase {
   static ROOT::Detail::RDF::RLoopManager *of(const ROOT::RDF::RInterfaceBase &df)
   {
      auto get = &LoopManagerAccess::GetLoopManager;
      return (df.*get)();
   }
};

/// Reaches the node an RDataFrame interface wraps (RInterface::GetProxiedPtr is protected).
struct NodeAccess : ROOT::RDF::RNode {
   static std::shared_ptr<ROOT::Detail::RDF::RNodeBase> shared(const ROOT::RDF::RNode &df)
   {
      auto get = &NodeAccess::GetProxiedPtr;
      return (df.*get)();
   }
   static const ROOT::Detail::RDF::RNodeBase *of(const ROOT::RDF::RNode &df) { return shared(df).get(); }
};

/// The (file, tree) pairs of the TChain (or the one TTree) that `df` reads, in the chain's order
/// (public TChain API: its list of files); empty when the data source is not a TTree.
inline std::vector<std::pair<std::string, std::string>> chainFiles(const ROOT::RDF::RNode &df)
{
   std::vector<std::pair<std::string, std::string>> files;
   auto *loop = LoopManagerAccess::of(df);
   auto *ds = loop ? dynamic_cast<ROOT::Internal::RDF::RTTreeDS *>(loop->GetDataSource()) : nullptr;
   TTree *tree = ds ? ds->GetTree() : nullptr;
   if (auto *chain = dynamic_cast<TChain *>(tree)) {
      for (const auto *element : TRangeDynCast<TChainElement>(chain->GetListOfFiles()))
         if (element)
            files.emplace_back(element->GetTitle(), element->GetName());
   } else if (tree && tree->GetCurrentFile()) {
      files.emplace_back(tree->GetCurrentFile()->GetName(), tree->GetName());
   }
   return files;
}

/// Per-slot position of the entry being processed within its task, set by one counting Filter
/// and shared by every streamed score defined after it.
struct TaskPositions {
   struct Slot {
      ULong64_t next = 0;    // position of the next entry in the task
      ULong64_t current = 0; // position of the entry being processed
   };
   std::vector<Slot> slots;
   Slot &slot(unsigned s) { return slotAt(slots, s); }
};

/// The counting Filters of the streamed scores (the node of each and its positions), so that a
/// further streamed score defined right after one reuses its counting: such a node counts
/// every entry of the data frame, as the data frame itself would.
class CountingFilters {
public:
   static CountingFilters &instance()
   {
      static CountingFilters registry;
      return registry;
   }
   void add(const std::shared_ptr<ROOT::Detail::RDF::RNodeBase> &node, std::shared_ptr<TaskPositions> positions)
   {
      std::lock_guard<std::mutex> lock(fMutex);
      fEntries.erase(std::remove_if(fEntries.begin(), fEntries.end(), [](const Entry &e) { return e.node.expired(); }),
                     fEntries.end());
      fEntries.push_back(Entry{node, std::move(positions)});
   }
   /// The positions counted by `node` when it is a live counting Filter, else null.
   std::shared_ptr<TaskPositions> find(const ROOT::Detail::RDF::RNodeBase *node)
   {
      std::lock_guard<std::mutex> lock(fMutex);
      for (const auto &e : fEntries) {
         auto live = e.node.lock();
         if (live && live.get() == node)
            return e.positions;
      }
      return nullptr;
   }

private:
   struct Entry {
      std::weak_ptr<ROOT::Detail::RDF::RNodeBase> node;
      std::shared_ptr<TaskPositions> positions;
   };
   std::mutex fMutex;
   std::vector<Entry> fEntries;
};

/// Reaches the columns defined up to a node (RInterfaceBase::fColRegister is protected).
struct ColumnAccess : ROOT::RDF::RInterfaceBase {
   static const ROOT::Internal::RDF::RColumnRegister &of(const ROOT::RDF::RInterfaceBase &df)
   {
      auto member = &ColumnAccess::fColRegister;
      return df.*member;
   }
};

/// The name of input `k` in messages: its label (the caller's expression) if given.
inline const std::string &label(const std::vector<std::string> &columns, const std::vector<std::string> &labels,
                                std::size_t k)
{
   return labels.size() == columns.size() ? labels[k] : columns[k];
}

} // namespace detail

/// The inputs among `columns` whose values have systematic variations on `df` (RDataFrame's
/// Vary, directly or through the Defines they are computed from); in the order given.
inline std::vector<std::string> variedColumns(const ROOT::RDF::RNode &df, const std::vector<std::string> &columns)
{
   std::vector<std::string> varied;
   const auto &registered = detail::ColumnAccess::of(df);
   for (const auto &c : columns)
      if (!registered.GetVariationDeps(c).empty())
         varied.push_back(c);
   return varied;
}

/// Why DefineStreamed cannot score `columns` on `df` (empty when it can): `df` must be the
/// RDataFrame itself (no Filter or Range before the score) over a TTree or TChain read from
/// files without an entry list, and each column a scalar arithmetic branch of the tree itself
/// (not a Define, Redefine, expression or friend-tree branch) without systematic variations.
/// `labels` name the inputs in the reason (default: the column names). `check`, when given,
/// replaces the test that a branch is scalar and arithmetic: it returns why the branch cannot
/// be streamed ("" when it can); the set models' streamed path (hepsift/SetScorer.hxx) checks
/// for jagged branches.
using BranchCheck = std::string (*)(TBranch &);
inline std::string whyNotStreamable(const ROOT::RDF::RNode &df, const std::vector<std::string> &columns,
                                    const std::vector<std::string> &labels = {}, BranchCheck check = nullptr)
{
   auto *loop = detail::LoopManagerAccess::of(df);
   const auto *node = detail::NodeAccess::of(df);
   if (!loop || (node != static_cast<const ROOT::Detail::RDF::RNodeBase *>(loop) &&
                 !detail::CountingFilters::instance().find(node)))
      return "the node is not the RDataFrame itself (a Filter or Range comes before the score)";
   const std::string source = ROOT::Internal::RDF::GetDataSourceLabel(df);
   if (source != "TTreeDS")
      return "the data source is " + source + ", not a TTree";
   const auto defined = ROOT::RDF::RNode(df).GetDefinedColumnNames();
   const auto varied = variedColumns(df, columns);
   for (std::size_t k = 0; k < columns.size(); ++k) {
      const std::string &c = columns[k];
      if (std::find(defined.begin(), defined.end(), c) != defined.end())
         return "input '" + detail::label(columns, labels, k) + "' is an expression or a Define, not a branch";
      if (std::find(varied.begin(), varied.end(), c) != varied.end())
         return "input '" + detail::label(columns, labels, k) + "' has systematic variations (Vary)";
   }
   auto *ds = dynamic_cast<ROOT::Internal::RDF::RTTreeDS *>(loop->GetDataSource());
   TTree *tree = ds ? ds->GetTree() : nullptr;
   if (!tree)
      return "the data frame has no tree";
   if (tree->GetEntryList())
      return "the tree has an entry list (its entries are not consecutive)";
   for (std::size_t k = 0; k < columns.size(); ++k) {
      const std::string &c = columns[k];
      TBranch *branch = tree->GetBranch(c.c_str()); // on a TChain this loads its first tree
      TTree *own = tree->GetTree();
      if (!branch)
         return "input '" + detail::label(columns, labels, k) + "' is not a branch of the tree";
      if (branch->GetTree() != own)
         return "input '" + detail::label(columns, labels, k) + "' is a branch of a friend tree";
      std::string why;
      if (check ? !(why = check(*branch)).empty() : !detail::TreeBlockReader::converter(*branch, why))
         return "branch '" + c + "' " + why;
   }
   if (!tree->GetTree() || !tree->GetTree()->GetCurrentFile())
      return "the tree is not read from a file";
   return "";
}

namespace detail {

/// Per-slot state of a streamed score.
struct StreamSlot {
   explicit StreamSlot(Workspace w) : ws(std::move(w)) {}
   std::unique_ptr<TreeBlockReader> reader;
   ULong64_t first = 0, end = 0; // the task's entry range in the tree
   ULong64_t offset = 0;         // chain entry of the tree's entry 0 (entry-numbered loops)
   ULong64_t blockFirst = 0;     // scored block: tree entries [blockFirst, blockFirst + blockN)
   std::size_t blockN = 0;
   Workspace ws;
   const float *scores = nullptr; // ws.output(), kept here: the per-entry lookup makes no call
};

/// How a streamed score knows the tree entry of the entry being processed.
enum class StreamPlacement {
   /// rdfentry_ is the entry number in the chain (a single-threaded event loop, also with a
   /// global entry range): tree entry = rdfentry_ - entries of the trees before it. No node
   /// runs per entry besides the score itself.
   ByEntry,
   /// rdfentry_ is a running count over tasks (ImplicitMT, or unknown: distributed workers): a
   /// pass-through Filter counts the entries of each task (TaskPositions).
   ByCounting
};

/// Where the task of a slot lies in its tree: shared by the streamed scores of flat models
/// (StreamState) and of set models (hepsift/SetScorer.hxx).
struct TaskRanges {
   StreamPlacement placement = StreamPlacement::ByCounting;
   /// The (file, tree) pairs of the data set's chain in order (to place a tree in the chain's
   /// numbering); empty: unknown.
   std::vector<std::pair<std::string, std::string>> chain;
   /// The data source (to see whether it reads a global entry range); null: assume it does
   /// (distributed workers always do).
   const ROOT::RDF::RDataSource *source = nullptr;

   /// The entries of the task in the tree's own numbering.
   ///
   /// ByEntry (single-threaded loop): the entries of the tree are rdfentry_ - offset, with the
   /// offset of the tree in the chain. ByCounting: under ImplicitMT each task is a range of one
   /// tree, which RSampleInfo gives in the tree's numbering (in the chain's when the data set
   /// has a global entry range). A single-threaded loop gives the tree's own range, or, with a
   /// global range, that range in the chain's numbering for every tree: the tree's part of it
   /// then follows from the entries of the trees before it.
   /// Returns them as [first, end) for a tree of `n` entries named `sample` in messages, and in
   /// `offset` (ByEntry) the chain entry of the tree's entry 0.
   std::pair<ULong64_t, ULong64_t> range(const ROOT::RDF::RSampleInfo &info, ULong64_t n, const std::string &sample,
                                         ULong64_t &offset)
   {
      const auto range = info.EntryRange();
      if (placement == StreamPlacement::ByEntry) {
         offset = chainOffset(info);
         return {0, n};
      }
      ULong64_t first = 0, end = n;
      if (ROOT::IsImplicitMTEnabled()) {
         // Each task is a range of one tree: in the tree's numbering, or in the chain's when
         // the data set has a global entry range.
         const ULong64_t offset = !source || GlobalRangeAccess::of(*source) ? chainOffset(info) : 0;
         if (range.first < offset)
            throw EvaluationError("hepsift: the streamed score cannot place entry range [" +
                                  std::to_string(range.first) + ", " + std::to_string(range.second) + ") in " +
                                  sample + "; use strategy 'per-event'");
         first = range.first - offset;
         end = range.second - offset;
      } else if (range.first != 0) {
         const ULong64_t offset = chainOffset(info);
         first = range.first > offset ? range.first - offset : 0;
      }
      if (first > end || end > n)
         throw EvaluationError("hepsift: the streamed score cannot place entry range [" + std::to_string(first) +
                               ", " + std::to_string(end) + ") in " + sample + " (" + std::to_string(n) +
                               " entries); use strategy 'per-event'");
      return {first, end};
   }

   /// Slot `sl` starts a task, a range of consecutive entries of one tree (RSampleInfo): its
   /// `Reader` of `columns` is reopened when the tree changes, its entries [first, end) are
   /// placed (range) and its block and its position `where` in the task are reset.
   template <class Reader, class Slot>
   void startTask(Slot &sl, TaskPositions::Slot &where, const ROOT::RDF::RSampleInfo &info,
                  const std::vector<std::string> &columns)
   {
      const std::string &sample = info.AsString();
      if (!sl.reader || sl.reader->sample() != sample)
         sl.reader = std::make_unique<Reader>(sample, columns);
      std::tie(sl.first, sl.end) = range(info, static_cast<ULong64_t>(sl.reader->entries()), sample, sl.offset);
      where.next = 0;
      sl.blockN = 0;
   }

   /// The tree entry of the entry being processed: ByEntry from its rdfentry_ `entry` (and the
   /// tree's `offset`), ByCounting from its `position` in the task that starts at tree entry
   /// `first`; `end` and `sample` (in messages) are the task's.
   ULong64_t treeEntry(ULong64_t entry, ULong64_t offset, ULong64_t first, ULong64_t end, ULong64_t position,
                       const std::string &sample) const
   {
      if (placement != StreamPlacement::ByEntry)
         return first + position;
      if (entry < offset || entry - offset >= end)
         throw EvaluationError("hepsift: the streamed score cannot place entry " + std::to_string(entry) +
                               " of the event loop in " + sample + " (entries " + std::to_string(offset) + " to " +
                               std::to_string(offset + end) +
                               " of the chain; was ImplicitMT switched after the score was defined?); use "
                               "strategy 'per-event'");
      return entry - offset;
   }

   /// Entries of the chain before the tree of `info` (from the entries of the chain's files,
   /// each read once).
   ULong64_t chainOffset(const ROOT::RDF::RSampleInfo &info)
   {
      if (chain.size() == 1)
         return 0;
      if (chain.empty())
         throw EvaluationError("hepsift: the streamed score cannot place the entry range of " + info.AsString() +
                               " in its chain (the files of the data set are not known); use strategy 'per-event'");
      std::lock_guard<std::mutex> lock(chainMutex);
      ULong64_t offset = 0;
      for (const auto &[file, tree] : chain) {
         const std::string id = file + (tree.rfind('/', 0) == 0 ? "" : "/") + tree;
         if (id == info.AsString())
            return offset;
         auto it = chainEntries.find(id);
         if (it == chainEntries.end()) {
            std::unique_ptr<TFile> f(TFile::Open(file.c_str(), "READ"));
            auto *t = f && !f->IsZombie() ? f->Get<TTree>(tree.c_str()) : nullptr;
            if (!t)
               throw EvaluationError("hepsift: the streamed score cannot read the entries of " + id +
                                     "; use strategy 'per-event'");
            it = chainEntries.emplace(id, static_cast<ULong64_t>(t->GetEntries())).first;
         }
         offset += it->second;
      }
      throw EvaluationError("hepsift: the streamed score does not find " + info.AsString() +
                            " among the files of its data set; use strategy 'per-event'");
   }

   std::mutex chainMutex;
   std::map<std::string, ULong64_t> chainEntries; // entries per "<file>/<tree>" of the chain
};

/// How a streamed score defined on `df` places its entries (`counted`: right after another
/// streamed score that counts them).
inline StreamPlacement placementFor(const ROOT::RDF::RNode &df, bool counted)
{
   return counted || ROOT::IsImplicitMTEnabled() || df.GetNSlots() > 1 ? StreamPlacement::ByCounting
                                                                       : StreamPlacement::ByEntry;
}

/// The node of a streamed score: `start(slot, info)` runs at every task (DefinePerSample); with
/// `count` (ByCounting, not right after another streamed score) a pass-through Filter also
/// counts the entries of each task into `positions`, registered in CountingFilters so that a
/// further streamed score defined right after this one reuses it.
template <typename Start>
ROOT::RDF::RNode streamedTaskNode(ROOT::RDF::RNode df, std::string_view name, bool count,
                                  const std::shared_ptr<TaskPositions> &positions, Start start)
{
   if (!count)
      return df.DefinePerSample("__hepsift_task_" + std::string(name),
                                [start](unsigned slot, const ROOT::RDF::RSampleInfo &info) {
                                   start(slot, info);
                                   return static_cast<ULong64_t>(info.EntryRange().first);
                                });
   auto node = countTaskEntries(df, name, start,
                                [positions](unsigned slot) -> TaskPositions::Slot & { return positions->slot(slot); });
   CountingFilters::instance().add(NodeAccess::shared(node), positions);
   return node;
}

struct StreamState : TaskRanges {
   StreamState(std::shared_ptr<const Model> m, std::vector<std::string> cols, std::size_t batchSize,
               ScorerOptions o, unsigned nSlots, std::shared_ptr<TaskPositions> counted = nullptr,
               StreamPlacement how = StreamPlacement::ByCounting,
               std::vector<std::pair<std::string, std::string>> chainFiles = {})
      : model(std::move(m)), columns(std::move(cols)), options(std::move(o)), positions(std::move(counted))
   {
      placement = how;
      chain = std::move(chainFiles);
      if (!positions) {
         positions = std::make_shared<TaskPositions>();
         positions->slots.resize(std::max(1u, nSlots));
      }
      if (!model)
         throw ConfigurationError("hepsift: streamed batched scoring got no model");
      if (batchSize == 0)
         throw ConfigurationError("hepsift: batch size must be at least 1");
      if (columns.size() != model->nFeatures())
         throw InputMismatchError("hepsift: model '" + model->path() + "' takes " +
                                  std::to_string(model->nFeatures()) + " features but " +
                                  std::to_string(columns.size()) + " columns were given");
      for (unsigned s = 0; s < std::max(1u, nSlots); ++s) {
         slots.emplace_back(model->makeWorkspace(batchSize));
         slots.back().scores = slots.back().ws.output();
      }
      nScores = model->nScores();
   }

   std::shared_ptr<const Model> model;
   std::vector<std::string> columns;
   ScorerOptions options;
   std::size_t nScores = 1; // model->nScores()
   std::vector<StreamSlot> slots;
   std::shared_ptr<TaskPositions> positions;

   StreamSlot &slot(unsigned s) { return slotAt(slots, s); }

   /// Slot `s` starts a task: a range of consecutive entries of one tree (RSampleInfo).
   void start(unsigned s, const ROOT::RDF::RSampleInfo &info)
   {
      startTask<TreeBlockReader>(slot(s), positions->slot(s), info, columns);
   }

   /// Slot `s` moves to the next entry of its task (ByCounting).
   void advance(unsigned s)
   {
      auto &where = positions->slot(s);
      where.current = where.next++;
   }

   /// Scores of the current entry of slot `s` (nScores floats); `entry`: its rdfentry_.
   const float *scores(unsigned s, ULong64_t entry)
   {
      StreamSlot &sl = slot(s);
      if (!sl.reader)
         throw EvaluationError("hepsift: the streamed score was evaluated outside a sample");
      const ULong64_t local =
         treeEntry(entry, sl.offset, sl.first, sl.end, positions->slot(s).current, sl.reader->sample());
      if (local < sl.blockFirst || local >= sl.blockFirst + sl.blockN) {
         if (local >= sl.end)
            throw EvaluationError("hepsift: the streamed score reached entry " + std::to_string(local) +
                                  " beyond the end " + std::to_string(sl.end) + " of its range in " +
                                  sl.reader->sample() + "; use strategy 'per-event'");
         const std::size_t n = std::min<std::size_t>(sl.ws.capacity(), sl.end - local);
         const std::size_t nf = model->nFeatures();
         sl.reader->read(static_cast<Long64_t>(local), n, sl.ws.input(), nf);
         if (options.checkFinite)
            checkFinite(sl, local, n * nf);
         model->run(sl.ws, n);
         sl.blockFirst = local;
         sl.blockN = n;
      }
      return sl.scores + (local - sl.blockFirst) * nScores;
   }

   /// Raises NonFiniteInputError for the first NaN or infinite input among the `count` values
   /// of the block of slot `sl` that starts at tree entry `first`.
   void checkFinite(StreamSlot &sl, ULong64_t first, std::size_t count) const
   {
      const float *in = sl.ws.input();
      const std::size_t i = firstNonFinite(in, count);
      if (i == count)
         return;
      const std::size_t nf = model->nFeatures();
      throwNonFinite(sl.reader->columnName(i % nf), in[i], std::to_string(first + i / nf) + " of " + sl.reader->sample(),
                     *model);
   }
};

} // namespace detail

/// Default events per batch of the streamed and two-pass paths: large enough that the loop
/// and reading costs per call vanish, small enough for the processor's caches (the model runs
/// in calls of at most ModelOptions::cpuChunk events anyway); bench/rdf_scoring.py compares
/// batch sizes.
constexpr std::size_t kDefaultBatchSize = 4096;

/// Defines column `name` with the model's scores, streamed in batches of `batchSize` events
/// (see the top of this header for when it applies: whyNotStreamable). Nothing runs now: the
/// scores are computed in the analysis' own event loop. float for one-score models,
/// ROOT::RVec<float> otherwise.
inline ROOT::RDF::RNode DefineStreamed(ROOT::RDF::RNode df, std::string_view name, std::shared_ptr<const Model> model,
                                       const std::vector<std::string> &columns,
                                       std::size_t batchSize = kDefaultBatchSize,
                                       ScorerOptions options = ScorerOptions())
{
   if (!model)
      throw ConfigurationError("hepsift::DefineStreamed: no model given");
   const std::string why = whyNotStreamable(df, columns, options.labels);
   if (!why.empty())
      throw ConfigurationError("hepsift: streamed batched scoring cannot score '" + std::string(name) + "': " + why +
                               "; use the per-event path or two passes (strategy 'per-event' or 'two-pass')");
   // Right after another streamed score, its counting Filter serves this score too. A
   // single-threaded loop needs no counting: its rdfentry_ is the entry number in the chain.
   auto counted = detail::CountingFilters::instance().find(detail::NodeAccess::of(df));
   const auto placement = detail::placementFor(df, counted != nullptr);
   auto state = std::make_shared<detail::StreamState>(model, columns, batchSize, options, df.GetNSlots(), counted,
                                                      placement, detail::chainFiles(df));
   state->source = detail::LoopManagerAccess::of(df)->GetDataSource();
   auto node = detail::streamedTaskNode(df, name, !counted && placement == detail::StreamPlacement::ByCounting,
                                        state->positions,
                                        [state](unsigned slot, const ROOT::RDF::RSampleInfo &info) {
                                           state->start(slot, info);
                                        });
   return detail::defineScores(node, name, model->nScores(),
                               [state](unsigned slot, ULong64_t entry) { return state->scores(slot, entry); });
}

/// How a score is computed in the event loop (see chooseStrategy).
enum class Strategy {
   Auto,     ///< the default rule of chooseStrategy
   PerEvent, ///< one model call per event (hepsift::Define): any node, any columns, follows Vary
   Stream,   ///< one event loop, inputs read in blocks from the file (DefineStreamed)
   TwoPass   ///< a first event loop now, any node and columns (DefineBatched)
};

/// "auto", "per-event", "stream" or "two-pass"; ConfigurationError otherwise.
inline Strategy parseStrategy(const std::string &name)
{
   if (name == "auto")
      return Strategy::Auto;
   if (name == "per-event")
      return Strategy::PerEvent;
   if (name == "stream")
      return Strategy::Stream;
   if (name == "two-pass")
      return Strategy::TwoPass;
   throw ConfigurationError("hepsift: strategy must be 'auto', 'per-event', 'stream' or 'two-pass', got '" + name +
                            "'");
}

inline std::string strategyName(Strategy s)
{
   switch (s) {
   case Strategy::PerEvent: return "per-event";
   case Strategy::Stream: return "stream";
   case Strategy::TwoPass: return "two-pass";
   default: return "auto";
   }
}

/// The path chosen for a score, its batch size and why the streamed path was not taken.
struct Choice {
   Strategy strategy = Strategy::PerEvent;
   std::size_t batchSize = 1;
   std::string why; ///< empty when streamed
};

/// The one rule that picks how a score is computed on node `df` from `columns` (`labels`:
/// their names in messages). `batchSize` 0 means "not given".
///
/// Auto (the default): streamed (batches of `batchSize`, default kDefaultBatchSize) wherever
/// whyNotStreamable(df, columns) is empty; otherwise per event, or in two passes when a batch
/// size above 1 was given and no input has systematic variations. Auto never runs an event
/// loop at define time unless a batch size was given. An explicit strategy is taken as asked,
/// or refused with a ConfigurationError that says why (batched scores are computed from the
/// nominal inputs, so inputs with variations are refused by "stream" and "two-pass").
inline Choice chooseStrategy(const ROOT::RDF::RNode &df, const std::vector<std::string> &columns, Strategy requested,
                             std::size_t batchSize, const std::vector<std::string> &labels = {},
                             BranchCheck check = nullptr)
{
   Choice c;
   const std::size_t batch = batchSize == 0 ? kDefaultBatchSize : batchSize;
   if (requested == Strategy::PerEvent) {
      if (batchSize > 1)
         throw ConfigurationError("hepsift: strategy 'per-event' calls the model once per event; batch size " +
                                  std::to_string(batchSize) + " needs strategy 'stream', 'two-pass' or 'auto'");
      c.why = "strategy 'per-event' was asked for";
      return c;
   }
   const auto varied = variedColumns(df, columns);
   if (!varied.empty()) {
      const auto at = std::find(columns.begin(), columns.end(), varied.front()) - columns.begin();
      c.why = "input '" + detail::label(columns, labels, static_cast<std::size_t>(at)) +
              "' has systematic variations (Vary)";
      if (requested != Strategy::Auto)
         throw ConfigurationError("hepsift: strategy '" + strategyName(requested) + "' cannot score: " + c.why +
                                  ", and batched scores are computed from the nominal inputs; use strategy "
                                  "'per-event' or 'auto' (both follow the variations)");
      return c;
   }
   if (requested == Strategy::TwoPass || (requested == Strategy::Auto && batchSize == 1)) {
      c.strategy = requested == Strategy::TwoPass ? Strategy::TwoPass : Strategy::PerEvent;
      c.batchSize = requested == Strategy::TwoPass ? batch : 1;
      c.why = "strategy '" + strategyName(c.strategy) + "' was asked for";
      return c;
   }
   c.why = whyNotStreamable(df, columns, labels, check);
   if (c.why.empty()) {
      c.strategy = Strategy::Stream;
      c.batchSize = batch;
      return c;
   }
   if (requested == Strategy::Stream)
      throw ConfigurationError("hepsift: strategy 'stream' cannot score: " + c.why +
                               "; use strategy 'two-pass', 'per-event' or 'auto'");
   if (batchSize > 1) {
      c.strategy = Strategy::TwoPass;
      c.batchSize = batchSize;
   }
   return c;
}

/// Defines column `name` on `df` with the score of `model` on `columns` (types Cols..., as for
/// hepsift::Define), by the path chooseStrategy picks: by default streamed in batches where
/// that applies (on the RDataFrame itself over TTree branches) and per event elsewhere. float
/// for one score, ROOT::RVec<float> for several. This is the call to use from C++.
template <typename... Cols>
ROOT::RDF::RNode DefineScore(ROOT::RDF::RNode df, std::string_view name, std::shared_ptr<const Model> model,
                             const std::vector<std::string> &columns, Strategy strategy = Strategy::Auto,
                             std::size_t batchSize = 0, ScorerOptions options = ScorerOptions())
{
   if (!model)
      throw ConfigurationError("hepsift::DefineScore: no model given");
   const Choice c = chooseStrategy(df, columns, strategy, batchSize, options.labels);
   switch (c.strategy) {
   case Strategy::Stream: return DefineStreamed(df, name, model, columns, c.batchSize, options);
   case Strategy::TwoPass: return DefineBatched<Cols...>(df, name, model, columns, c.batchSize, options);
   default:
      if (model->nScores() > 1)
         return df.DefineSlotEntry(name, MultiScorer<Cols...>(model, df.GetNSlots(), columns, options), columns);
      return df.DefineSlotEntry(name, Scorer<Cols...>(model, df.GetNSlots(), columns, options), columns);
   }
}

} // namespace hepsift

#endif
