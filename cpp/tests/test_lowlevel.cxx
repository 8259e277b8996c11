// ctest: image and set models inside RDataFrame event loops (no Python). The models are
// written here (OnnxWriter.hxx), their scores computed here in double precision.
#include "Check.hxx"
#include "OnnxWriter.hxx"

#include "hepsift/Batch.hxx"
#include "hepsift/SetScorer.hxx"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RVec.hxx>
#include <TFile.h>
#include <TROOT.h>
#include <TTree.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace hepsift::testing;
using ROOT::RVecF;
using ROOT::RVecI;

static std::string tmpPath(const std::string &name)
{
   return std::string(HEPSIFT_TEST_TMPDIR) + "/" + name;
}

/// A value info whose dimensions below 0 are dynamic with the names in `params` (in order).
static Proto dynamicInfo(const std::string &name, const std::vector<std::int64_t> &dims,
                         const std::vector<std::string> &params)
{
   Proto shape;
   std::size_t k = 0;
   for (auto d : dims) {
      Proto dim;
      if (d < 0)
         dim.bytes(2, params.at(k++));
      else
         dim.varint(1, static_cast<std::uint64_t>(d));
      shape.message(1, dim);
   }
   Proto tensor, type, vi;
   tensor.varint(1, kFloat).message(2, shape);
   type.message(1, tensor);
   vi.bytes(1, name).message(2, type);
   return vi;
}

static void writeModel(const std::string &path, Proto &graph, int opset)
{
   graph.bytes(2, "hepsift_test");
   Proto op, model;
   op.bytes(1, "").varint(2, static_cast<std::uint64_t>(opset));
   model.varint(1, 7).bytes(2, "hepsift-tests").message(7, graph).message(8, op);
   std::ofstream(path, std::ios::binary) << model.str();
}

static const std::vector<float> kImageW = {0.3f, -0.2f, 0.5f, 0.1f, -0.4f, 0.25f, 0.05f, -0.15f, 0.35f, -0.3f, 0.2f, 0.45f};

/// images [N, 2, 2, 3] -> Sigmoid(Flatten(x) . W) [N, 1]
static std::string imageModel()
{
   const std::string path = tmpPath("image.onnx");
   Proto graph, flat = node("Flatten", {"images"}, {"f"}), attr;
   attr.bytes(1, "axis").varint(3, 1).varint(20, 2);
   flat.message(5, attr);
   graph.message(1, flat);
   graph.message(1, node("MatMul", {"f", "W"}, {"z"}));
   graph.message(1, node("Sigmoid", {"z"}, {"score"}));
   graph.message(5, floatTensor("W", {12, 1}, kImageW));
   graph.message(11, dynamicInfo("images", {-1, 2, 2, 3}, {"N"}));
   graph.message(12, dynamicInfo("score", {-1, 1}, {"N"}));
   writeModel(path, graph, 13);
   return path;
}

static RVecF imageOf(ULong64_t i)
{
   RVecF v(12);
   for (std::size_t k = 0; k < 12; ++k)
      v[k] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.9 * static_cast<double>(k)));
   return v;
}

/// objects [N, P, 2] (+ mask [N, P]): per object t = Tanh(x . w); per event Sigmoid(sum_p mask_p t_p),
/// or per object t ([N, P]).
static std::string setModel(const std::string &name, bool masked, bool perObject)
{
   const std::string path = tmpPath(name);
   Proto graph;
   graph.message(1, node("MatMul", {"objects", "w"}, {"u"}));
   graph.message(1, node("Tanh", {"u"}, {perObject ? "score" : "t"}));
   if (!perObject) {
      if (masked)
         graph.message(1, node("Mul", {"t", "mask"}, {"tm"}));
      Proto sum = node("ReduceSum", {masked ? "tm" : "t"}, {"s"}), axes, keep;
      axes.bytes(1, "axes").varint(8, 1).varint(20, 7);
      keep.bytes(1, "keepdims").varint(3, 0).varint(20, 2);
      sum.message(5, axes).message(5, keep);
      graph.message(1, sum);
      graph.message(1, node("Sigmoid", {"s"}, {"score"}));
   }
   graph.message(5, floatTensor("w", {2}, {0.08f, -0.7f}));
   graph.message(11, dynamicInfo("objects", {-1, -1, 2}, {"N", "P"}));
   if (masked)
      graph.message(11, dynamicInfo("mask", {-1, -1}, {"N", "P"}));
   graph.message(12, perObject ? dynamicInfo("score", {-1, -1}, {"N", "P"}) : dynamicInfo("score", {-1}, {"N"}));
   writeModel(path, graph, 11);
   return path;
}

static double objectScore(float pt, int q)
{
   return std::tanh(0.08 * static_cast<double>(pt) - 0.7 * static_cast<double>(q));
}

/// A reduction over `axis` of `in` with keepdims 0 (opset 11: axes as an attribute).
static Proto reduce(const std::string &op, const std::string &in, const std::string &out, std::int64_t axis)
{
   Proto r = node(op, {in}, {out}), axes, keep;
   axes.bytes(1, "axes").varint(8, static_cast<std::uint64_t>(axis)).varint(20, 7);
   keep.bytes(1, "keepdims").varint(3, 0).varint(20, 2);
   r.message(5, axes).message(5, keep);
   return r;
}

/// objects [N, J, P, 2] + mask [N, J, P] (a JetTagger's layout): per jet Sigmoid(sum_p mask t_p)
/// with t = Tanh(x . w), times max_p mask (a jet without objects scores 0). Without the mask
/// (`masked` false): the sum over all objects, which hepsift refuses to load.
static std::string groupedModel(const std::string &name, bool masked)
{
   const std::string path = tmpPath(name);
   Proto graph;
   graph.message(1, node("MatMul", {"objects", "w"}, {"u"}));
   graph.message(1, node("Tanh", {"u"}, {"t"}));
   if (masked) {
      graph.message(1, node("Mul", {"t", "mask"}, {"tm"}));
      graph.message(1, reduce("ReduceSum", "tm", "s", 2));
      graph.message(1, node("Sigmoid", {"s"}, {"p"}));
      graph.message(1, reduce("ReduceMax", "mask", "present", 2));
      graph.message(1, node("Mul", {"p", "present"}, {"score"}));
   } else
      graph.message(1, reduce("ReduceSum", "t", "score", 2));
   graph.message(5, floatTensor("w", {2}, {0.08f, -0.7f}));
   graph.message(11, dynamicInfo("objects", {-1, -1, -1, 2}, {"N", "J", "P"}));
   if (masked)
      graph.message(11, dynamicInfo("mask", {-1, -1, -1}, {"N", "J", "P"}));
   graph.message(12, dynamicInfo("score", {-1, -1}, {"N", "J"}));
   writeModel(path, graph, 11);
   return path;
}

/// The reference per-jet scores of groupedModel: object p belongs to jet idx[p] (-1: none),
/// the first `keep` objects of each jet count (0: all).
static std::vector<double> groupedReference(const RVecF &pt, const RVecI &q, const RVecI &idx, int nJets,
                                            std::size_t keep)
{
   std::vector<double> sum(static_cast<std::size_t>(nJets), 0.0);
   std::vector<std::size_t> count(static_cast<std::size_t>(nJets), 0);
   for (std::size_t p = 0; p < pt.size(); ++p) {
      if (idx[p] < 0)
         continue;
      const auto j = static_cast<std::size_t>(idx[p]);
      if (keep > 0 && count[j] >= keep)
         continue;
      ++count[j];
      sum[j] += objectScore(pt[p], q[p]);
   }
   std::vector<double> out(sum.size());
   for (std::size_t j = 0; j < out.size(); ++j)
      out[j] = count[j] ? 1.0 / (1.0 + std::exp(-sum[j])) : 0.0;
   return out;
}

int main()
{
   ROOT::EnableImplicitMT(2);
   const ULong64_t n = 400;
   ROOT::RDataFrame base(n);
   auto df = base.Define("img", imageOf, {"rdfentry_"})
                .Define("pt", [](ULong64_t i) { return RVecF(i % 5, 1.f + 0.1f * static_cast<float>(i)); },
                        {"rdfentry_"})
                .Define("q", [](ULong64_t i) { return RVecI(i % 5, static_cast<int>(i % 3) - 1); }, {"rdfentry_"});

   // --- image model: per event and in two passes, 1 and 2 threads (ImplicitMT) -------------
   auto image = std::make_shared<const hepsift::Model>(imageModel());
   HS_CHECK(image->inputKind() == "image" && image->nFeatures() == 12);
   HS_CHECK((image->eventShape() == std::vector<std::int64_t>{2, 2, 3}));
   auto imageRef = [](ULong64_t i) {
      const RVecF v = imageOf(i);
      double z = 0;
      for (std::size_t k = 0; k < 12; ++k)
         z += v[k] * kImageW[k];
      return 1.0 / (1.0 + std::exp(-z));
   };
   ROOT::RDF::RNode perEvent = hepsift::Define<RVecF>(df, "score", image, {"img"});
   ROOT::RDF::RNode batched = hepsift::DefineBatched<RVecF>(df, "score", image, {"img"}, 64);
   for (auto *node : {&perEvent, &batched}) {
      auto scores = node->Take<float>("score");
      auto entries = node->Take<ULong64_t>("rdfentry_");
      double worst = 0;
      for (std::size_t k = 0; k < scores->size(); ++k)
         worst = std::max(worst, std::fabs((*scores)[k] - imageRef((*entries)[k])));
      HS_CHECK(scores->size() == n);
      HS_CHECK_CLOSE(worst, 0.0, 1e-6);
   }
   auto cut = df.Define("cut", [](ULong64_t i, const RVecF &v) { return i == 7 ? RVecF(v.begin(), v.begin() + 11) : v; },
                        {"rdfentry_", "img"});
   HS_CHECK_THROWS(hepsift::Define<RVecF>(cut, "s", image, {"cut"}).Sum<float>("s").GetValue(), hepsift::EvaluationError,
                   "column 'cut' has 11 values at entry 7 but model '" + image->path() +
                      "' takes images of 2 x 2 x 3 = 12 values");

   // --- set models --------------------------------------------------------------------------
   auto masked = std::make_shared<const hepsift::Model>(setModel("set_masked.onnx", true, false));
   auto plain = std::make_shared<const hepsift::Model>(setModel("set_plain.onnx", false, false));
   auto perObject = std::make_shared<const hepsift::Model>(setModel("set_perobject.onnx", false, true));
   HS_CHECK(masked->inputKind() == "set" && masked->masked() && !masked->perObject() && masked->nFeatures() == 2);
   HS_CHECK(!plain->masked() && perObject->perObject() && perObject->nScores() == 1);
   HS_CHECK_THROWS(hepsift::Define<RVecF>(df, "s", masked, {"pt"}), hepsift::ConfigurationError, "DefineSetScore");

   const std::vector<std::string> cols = {"pt", "q"};
   auto sets = hepsift::DefineSetScore<RVecF, RVecI>(df, "ds", masked, cols);
   sets = hepsift::DefineSetScore<RVecF, RVecI>(sets, "ds2", masked, cols, 2);
   sets = hepsift::DefineSetScore<RVecF, RVecI>(sets, "po", perObject, cols, 3);
   // two passes, batches of 32 events padded to their longest event with mask 0
   sets = hepsift::DefineSetScore<RVecF, RVecI>(sets, "dsb", masked, cols, 0, hepsift::Strategy::TwoPass, 32);
   auto dsb = sets.Take<float>("dsb");
   auto ds = sets.Take<float>("ds");
   auto ds2 = sets.Take<float>("ds2");
   auto po = sets.Take<RVecF>("po");
   auto pts = sets.Take<RVecF>("pt");
   auto qs = sets.Take<RVecI>("q");
   double worst = 0;
   std::size_t empty = 0;
   for (std::size_t k = 0; k < ds->size(); ++k) {
      const RVecF &pt = (*pts)[k];
      const RVecI &q = (*qs)[k];
      double s = 0, s2 = 0;
      for (std::size_t p = 0; p < pt.size(); ++p) {
         s += objectScore(pt[p], q[p]);
         if (p < 2)
            s2 += objectScore(pt[p], q[p]);
      }
      empty += pt.empty();
      worst = std::max({worst, std::fabs((*ds)[k] - 1.0 / (1.0 + std::exp(-s))),
                        std::fabs((*dsb)[k] - 1.0 / (1.0 + std::exp(-s))),
                        std::fabs((*ds2)[k] - 1.0 / (1.0 + std::exp(-s2)))});
      const RVecF &o = (*po)[k];
      HS_CHECK(o.size() == pt.size());
      for (std::size_t p = 0; p < o.size(); ++p) {
         if (p < 3)
            worst = std::max(worst, std::fabs(o[p] - objectScore(pt[p], q[p])));
         else
            HS_CHECK(std::isnan(o[p]));
      }
   }
   HS_CHECK(empty == n / 5); // empty events score sigmoid(0) = 0.5 with the mask
   HS_CHECK_CLOSE(worst, 0.0, 1e-6);

   auto bad = df.Define("q2", [](ULong64_t i, const RVecI &q) { return i == 13 ? RVecI(q.begin(), q.end() - 1) : q; },
                        {"rdfentry_", "q"});
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(bad, "s", masked, {"pt", "q2"}).Sum<float>("s").GetValue()),
                   hepsift::EvaluationError, "'pt' (3 values) and 'q2' (2 values) differ in length at entry 13");
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(df, "s", plain, cols).Sum<float>("s").GetValue()),
                   hepsift::EvaluationError, "has no objects in 'pt', 'q' and model");
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(df, "s", perObject, cols, 0, hepsift::Strategy::TwoPass)),
                   hepsift::ConfigurationError, "cannot be scored in two passes (it gives a score per object)");
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(df, "s", plain, cols, 0, hepsift::Strategy::TwoPass)),
                   hepsift::ConfigurationError, "cannot be scored in two passes (it has no 'mask' input)");
   // "auto" with a batch size: per event for them (the empty events of `plain` then throw).
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(df, "s", plain, cols, 0, hepsift::Strategy::Auto, 64)
                       .Sum<float>("s").GetValue()),
                   hepsift::EvaluationError, "has no objects");
   HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF>(df, "s", masked, {"pt"})), hepsift::InputMismatchError,
                   "takes 2 features per object but 1 columns");

   // --- set models streamed from jagged branches of a tree (pt[n]/F, q[n]/I; clusters of 50) --
   const std::string jagged = tmpPath("hepsift_sets_jagged.root");
   {
      TFile f(jagged.c_str(), "RECREATE");
      TTree t("Events", "");
      Int_t nObj = 0;
      Float_t pt[8];
      Int_t q[8];
      ULong64_t entry = 0;
      t.Branch("n", &nObj, "n/I");
      t.Branch("pt", pt, "pt[n]/F");
      t.Branch("q", q, "q[n]/I");
      t.Branch("entry", &entry, "entry/l");
      t.SetAutoFlush(50);
      for (entry = 0; entry < n; ++entry) {
         const RVecF vp = RVecF(entry % 5, 1.f + 0.1f * static_cast<float>(entry));
         nObj = static_cast<Int_t>(vp.size());
         for (Int_t p = 0; p < nObj; ++p) {
            pt[p] = vp[p];
            q[p] = static_cast<int>(entry % 3) - 1;
         }
         t.Fill();
      }
      t.Write();
   }
   // Under the test's ImplicitMT(2) (a counting Filter places the entries), then single-threaded
   // (rdfentry_ places them).
   for (bool mt : {true, false}) {
      if (!mt)
         ROOT::DisableImplicitMT();
      ROOT::RDataFrame tree("Events", jagged);
      HS_CHECK(hepsift::chooseSetStrategy(tree, *masked, cols, hepsift::Strategy::Auto, 0).strategy ==
               hepsift::Strategy::Stream);
      HS_CHECK(hepsift::chooseSetStrategy(tree.Filter("n > 0"), *masked, cols, hepsift::Strategy::Auto, 0).strategy ==
               hepsift::Strategy::PerEvent);
      auto streamed = hepsift::DefineSetScore<RVecF, RVecI>(tree, "ds", masked, cols, 0, hepsift::Strategy::Auto, 16);
      streamed = hepsift::DefineSetScore<RVecF, RVecI>(streamed, "po", perObject, cols, 3);
      // The reference next to each score in the same entry, so the order of the entries does not matter.
      auto diff = streamed.Define("d", [](const RVecF &pt, const RVecI &q, float ds, const RVecF &po) {
         double s = 0, worst = 0;
         for (std::size_t p = 0; p < pt.size(); ++p) {
            s += objectScore(pt[p], q[p]);
            worst = std::max(worst, p < 3 ? std::fabs(po[p] - objectScore(pt[p], q[p])) : std::isnan(po[p]) ? 0. : 1.);
         }
         return std::max(worst, std::fabs(ds - 1.0 / (1.0 + std::exp(-s)))) + (po.size() == pt.size() ? 0. : 1.);
      }, {"pt", "q", "ds", "po"});
      auto count = diff.Count();
      HS_CHECK_CLOSE(*diff.Max<double>("d"), 0.0, 1e-6);
      HS_CHECK(*count == n);
      HS_CHECK_THROWS((hepsift::DefineSetScore<RVecF, RVecI>(ROOT::RDataFrame("Events", jagged), "s", plain, cols)
                          .Sum<float>("s")
                          .GetValue()),
                      hepsift::EvaluationError, " of " + jagged + "/Events has no objects in 'pt', 'q'");
      if (!mt)
         ROOT::EnableImplicitMT(2);
   }
   std::remove(jagged.c_str());

   // --- grouped sets: the objects of every jet, one score per jet ------------------------------
   auto tagger = std::make_shared<const hepsift::Model>(groupedModel("grouped.onnx", true));
   HS_CHECK(tagger->inputKind() == "grouped-set" && tagger->masked() && tagger->perObject() &&
            tagger->nFeatures() == 2 && tagger->nScores() == 1);
   HS_CHECK((tagger->eventShape() == std::vector<std::int64_t>{-1, -1, 2}));
   HS_CHECK_THROWS(hepsift::Model(groupedModel("grouped_nomask.onnx", false)), hepsift::ModelError,
                   "has no input 'mask' [batch, J, P]");
   // entry i: i % 4 jets; object p of it in jet (p + i) % (jets + 1) - 1 (-1: none), so that some
   // jets have no objects and some events no jets
   auto jetsOf = [](ULong64_t i) { return static_cast<int>(i % 4); };
   auto grouped = df.Define("nj", jetsOf, {"rdfentry_"})
                     .Define("jet_pt", [](int nj) { return RVecF(static_cast<std::size_t>(nj), 300.f); }, {"nj"})
                     .Define("idx",
                             [](ULong64_t i, int nj, const RVecF &pt) {
                                RVecI idx(pt.size());
                                for (std::size_t p = 0; p < idx.size(); ++p)
                                   idx[p] = static_cast<int>((p + i) % static_cast<std::size_t>(nj + 1)) - 1;
                                return idx;
                             },
                             {"rdfentry_", "nj", "pt"});
   auto tagged =
      hepsift::DefineGroupedSetScore<RVecI, int, RVecF, RVecI>(grouped, "jet_score", tagger, cols, "idx", "nj");
   tagged = hepsift::DefineGroupedSetScore<RVecI, RVecF, RVecF, RVecI>(tagged, "jet_score1", tagger, cols, "idx",
                                                                       "jet_pt", 1);
   auto js = tagged.Take<RVecF>("jet_score");
   auto js1 = tagged.Take<RVecF>("jet_score1");
   auto gpt = tagged.Take<RVecF>("pt");
   auto gq = tagged.Take<RVecI>("q");
   auto gidx = tagged.Take<RVecI>("idx");
   auto gnj = tagged.Take<int>("nj");
   double worstJet = 0;
   std::size_t noJets = 0, emptyJets = 0, jetsSeen = 0;
   for (std::size_t k = 0; k < js->size(); ++k) {
      const int nj = (*gnj)[k];
      const auto ref = groupedReference((*gpt)[k], (*gq)[k], (*gidx)[k], nj, 0);
      const auto ref1 = groupedReference((*gpt)[k], (*gq)[k], (*gidx)[k], nj, 1);
      HS_CHECK((*js)[k].size() == static_cast<std::size_t>(nj) && (*js1)[k].size() == static_cast<std::size_t>(nj));
      noJets += nj == 0;
      for (std::size_t j = 0; j < ref.size() && j < (*js)[k].size() && j < (*js1)[k].size(); ++j) {
         worstJet = std::max({worstJet, std::fabs((*js)[k][j] - ref[j]), std::fabs((*js1)[k][j] - ref1[j])});
         emptyJets += ref[j] == 0.0;
         ++jetsSeen;
      }
   }
   HS_CHECK(noJets == n / 4 && emptyJets > 0 && jetsSeen > emptyJets);
   HS_CHECK_CLOSE(worstJet, 0.0, 1e-6);
   auto badIdx = grouped.Define("idx2", [](ULong64_t i, int nj, const RVecI &idx) {
      RVecI out = idx;
      if (i == 6 && !out.empty())
         out[0] = nj; // entry 6: 2 jets, 1 object
      return out;
   }, {"rdfentry_", "nj", "idx"});
   HS_CHECK_THROWS((hepsift::DefineGroupedSetScore<RVecI, int, RVecF, RVecI>(badIdx, "s", tagger, cols, "idx2", "nj")
                       .Take<RVecF>("s")
                       .GetValue()),
                   hepsift::EvaluationError, "object 0 of entry 6 has 'idx2' = 2 but the event has 2 jets ('nj'");
   auto badLen = grouped.Define(
      "q2", [](ULong64_t i, const RVecI &q) { return i == 13 ? RVecI(q.begin(), q.end() - 1) : q; }, {"rdfentry_", "q"});
   HS_CHECK_THROWS((hepsift::DefineGroupedSetScore<RVecI, int, RVecF, RVecI>(badLen, "s", tagger, {"pt", "q2"}, "idx",
                                                                              "nj")
                       .Take<RVecF>("s")
                       .GetValue()),
                   hepsift::EvaluationError, "'pt' (3 values) and 'q2' (2 values) differ in length at entry 13");
   HS_CHECK_THROWS((hepsift::DefineGroupedSetScore<RVecI, int, RVecF, RVecI>(grouped, "s", masked, cols, "idx", "nj")),
                   hepsift::InputMismatchError, "score it with hepsift::DefineSetScore");
   HS_CHECK_THROWS((hepsift::DefineGroupedSetScore<RVecI, int, RVecF, RVecI>(grouped, "s", tagger, cols, "idx", "nj",
                                                                              0, hepsift::Strategy::TwoPass)),
                   hepsift::ConfigurationError, "is scored per event (strategy 'two-pass'");
   HS_CHECK_THROWS(hepsift::Define<RVecF>(df, "s", tagger, {"pt"}), hepsift::ConfigurationError,
                   "DefineGroupedSetScore");
   return HS_REPORT();
}
