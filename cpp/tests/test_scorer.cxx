// ctest: hepsift::Scorer inside a real RDataFrame event loop over a ROOT file (no Python).
#include "Check.hxx"
#include "OnnxWriter.hxx"

#include "hepsift/Batch.hxx"
#include "hepsift/Columns.hxx"
#include "hepsift/Stream.hxx"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RDFHelpers.hxx>
#include <TROOT.h>

#include <cmath>
#include <string>
#include <vector>

using hepsift::testing::LinearModel;

static std::string tmpPath(const std::string &name)
{
   return std::string(HEPSIFT_TEST_TMPDIR) + "/" + name;
}

static const std::vector<std::string> kCols = {"a", "b", "c", "d", "e", "f"};

// Scores `file` with a 6-feature model over columns of six different types and returns the
// largest difference to the reference.
static double worstDifference(const std::string &file, const LinearModel &lin, std::shared_ptr<const hepsift::Model> model,
                              std::size_t &nSeen)
{
   ROOT::RDataFrame df("Events", file);
   auto scored = hepsift::Define<float, double, int, unsigned int, Long64_t, bool>(df, "score", model, kCols);
   auto score = scored.Take<float>("score");
   auto a = scored.Take<float>("a");
   auto b = scored.Take<double>("b");
   auto c = scored.Take<int>("c");
   auto d = scored.Take<unsigned int>("d");
   auto e = scored.Take<Long64_t>("e");
   auto f = scored.Take<bool>("f");
   double worst = 0;
   nSeen = score->size();
   for (std::size_t i = 0; i < score->size(); ++i) {
      // The model sees float32 inputs: the reference does too.
      auto ref = lin.reference({(*a)[i], static_cast<float>((*b)[i]), static_cast<float>((*c)[i]),
                                static_cast<float>((*d)[i]), static_cast<float>((*e)[i]), (*f)[i] ? 1.0 : 0.0});
      worst = std::max(worst, std::fabs(ref[0] - (*score)[i]));
   }
   return worst;
}

int main()
{
   const std::string file = tmpPath("events.root");
   const ULong64_t nEvents = 20000;
   {
      ROOT::RDataFrame gen(nEvents);
      gen.Define("a", [](ULong64_t i) { return static_cast<float>(std::sin(0.1 * i)); }, {"rdfentry_"})
         .Define("b", [](ULong64_t i) { return std::cos(0.07 * i) * 2.0; }, {"rdfentry_"})
         .Define("c", [](ULong64_t i) { return static_cast<int>(i % 11) - 5; }, {"rdfentry_"})
         .Define("d", [](ULong64_t i) { return static_cast<unsigned int>(i % 3); }, {"rdfentry_"})
         .Define("e", [](ULong64_t i) { return static_cast<Long64_t>(i % 5) - 2; }, {"rdfentry_"})
         .Define("f", [](ULong64_t i) { return i % 2 == 0; }, {"rdfentry_"})
         .Define("v", [](ULong64_t i) { return ROOT::RVecF{0.1f * (i % 4), -0.5f, 0.01f * (i % 50), 1.f}; },
                 {"rdfentry_"})
         .Define("vbad", [](ULong64_t i) { return ROOT::RVecF(i == 7 ? 2 : 4, 0.5f); }, {"rdfentry_"})
         .Define("nanny", [](ULong64_t i) { return i == 17 ? std::nanf("") : 1.f; }, {"rdfentry_"})
         .Snapshot("Events", file);
   }

   LinearModel lin(6, 1);
   lin.write(tmpPath("six.onnx"));
   auto model = std::make_shared<const hepsift::Model>(tmpPath("six.onnx"));

   std::size_t seen = 0;
   HS_CHECK_CLOSE(worstDifference(file, lin, model, seen), 0.0, 1e-6);
   HS_CHECK(seen == nEvents);

   // Vector input and several scores.
   LinearModel multi(4, 3);
   multi.write(tmpPath("multi4.onnx"));
   auto mm = std::make_shared<const hepsift::Model>(tmpPath("multi4.onnx"));
   {
      ROOT::RDataFrame df("Events", file);
      auto scored = df.DefineSlotEntry("s", hepsift::MultiScorer<ROOT::RVecF>(mm, df.GetNSlots(), {"v"}), {"v"});
      auto s = scored.Take<ROOT::RVecF>("s");
      auto v = scored.Take<ROOT::RVecF>("v");
      double worst = 0;
      for (std::size_t i = 0; i < s->size(); ++i) {
         auto ref = multi.reference({(*v)[i][0], (*v)[i][1], (*v)[i][2], (*v)[i][3]});
         for (int j = 0; j < 3; ++j)
            worst = std::max(worst, std::fabs(ref[j] - (*s)[i][j]));
      }
      HS_CHECK(s->size() == nEvents);
      HS_CHECK_CLOSE(worst, 0.0, 1e-6);
      // A vector whose size is not the model's width is refused with the entry named.
      auto bad = df.DefineSlotEntry("s", hepsift::MultiScorer<ROOT::RVecF>(mm, df.GetNSlots(), {"vbad"}), {"vbad"});
      HS_CHECK_THROWS(bad.Take<ROOT::RVecF>("s").GetValue(), hepsift::EvaluationError, "has 2 values at entry 7");
   }

   // Errors found before the event loop.
   {
      ROOT::RDataFrame df("Events", file);
      HS_CHECK_THROWS((hepsift::Scorer<float, float>(model, 1, {"a", "nanny"})), hepsift::InputMismatchError,
                      "takes 6 features but 2 columns");
      HS_CHECK_THROWS((hepsift::Scorer<float>(mm, 1, {"a"})), hepsift::InputMismatchError, "takes 4 features");
      HS_CHECK_THROWS((hepsift::Scorer<ROOT::RVecF>(mm, 1, {"v"})), hepsift::ConfigurationError, "MultiScorer");
   }

   // NaN input: the entry and column are named; with checkFinite=false the NaN passes through.
   LinearModel lin2(2, 1);
   lin2.write(tmpPath("two.onnx"));
   auto m2 = std::make_shared<const hepsift::Model>(tmpPath("two.onnx"));
   {
      ROOT::RDataFrame df("Events", file);
      auto scored = hepsift::Define<float, float>(df, "s", m2, {"a", "nanny"});
      HS_CHECK_THROWS(scored.Sum<float>("s").GetValue(), hepsift::NonFiniteInputError,
                      "input column 'nanny' is NaN at entry 17");
      hepsift::ScorerOptions labelled;
      labelled.labels = {"a", "log(x) of the analysis"};
      HS_CHECK_THROWS((hepsift::Define<float, float>(df, "s", m2, {"a", "nanny"}, labelled).Sum<float>("s").GetValue()),
                      hepsift::NonFiniteInputError, "input column 'log(x) of the analysis' is NaN at entry 17");
      hepsift::ScorerOptions pass;
      pass.checkFinite = false;
      auto passed = hepsift::Define<float, float>(df, "s", m2, {"a", "nanny"}, pass);
      auto s = passed.Take<float>("s");
      HS_CHECK(std::isnan((*s)[17]));
      HS_CHECK(!std::isnan((*s)[16]));
   }

   // Batched scoring: identical to the per-event path on every entry, also behind a Filter.
   auto batchedVsPerEvent = [&](bool filtered) {
      ROOT::RDataFrame df("Events", file);
      ROOT::RDF::RNode base = df;
      if (filtered)
         base = df.Filter("c > 0");
      auto perEvent = hepsift::Define<float, double, int, unsigned int, Long64_t, bool>(base, "pe", model, kCols);
      std::shared_ptr<hepsift::ScoreTable> table;
      auto both = hepsift::DefineBatched<float, double, int, unsigned int, Long64_t, bool>(
         perEvent, "bat", model, kCols, 333, hepsift::ScorerOptions(), &table);
      auto pe = both.Take<float>("pe");
      auto bat = both.Take<float>("bat");
      double worst = 0;
      for (std::size_t i = 0; i < pe->size(); ++i)
         worst = std::max(worst, static_cast<double>(std::fabs((*pe)[i] - (*bat)[i])));
      HS_CHECK(table->size() == pe->size());
      HS_CHECK(pe->size() == (filtered ? 9090u : nEvents));
      return worst;
   };
   HS_CHECK_CLOSE(batchedVsPerEvent(false), 0.0, 1e-6);
   HS_CHECK_CLOSE(batchedVsPerEvent(true), 0.0, 1e-6);
   {
      ROOT::RDataFrame df("Events", file);
      HS_CHECK_THROWS((hepsift::DefineBatched<float, float>(df, "s", m2, {"a", "nanny"}, 64)),
                      hepsift::NonFiniteInputError, "'nanny' is NaN at entry 17");
      HS_CHECK_THROWS((hepsift::DefineBatched<float, float>(df, "s", model, {"a", "nanny"}, 64)),
                      hepsift::InputMismatchError, "takes 6 features but 2 columns");
   }

   // Streamed batches (one event loop, inputs read in bulk from the file): identical to the
   // per-event path, also when a downstream Filter needs the score of some entries only.
   auto streamedVsPerEvent = [&](bool filtered) {
      ROOT::RDataFrame df("Events", file);
      auto streamed = hepsift::DefineStreamed(df, "bat", model, kCols, 333);
      ROOT::RDF::RNode base = filtered ? streamed.Filter("c > 0") : streamed;
      auto both = hepsift::Define<float, double, int, unsigned int, Long64_t, bool>(base, "pe", model, kCols);
      auto pe = both.Take<float>("pe");
      auto bat = both.Take<float>("bat");
      double worst = 0;
      for (std::size_t i = 0; i < pe->size(); ++i)
         worst = std::max(worst, static_cast<double>(std::fabs((*pe)[i] - (*bat)[i])));
      HS_CHECK(pe->size() == (filtered ? 9090u : nEvents));
      return worst;
   };
   HS_CHECK_CLOSE(streamedVsPerEvent(false), 0.0, 1e-6);
   HS_CHECK_CLOSE(streamedVsPerEvent(true), 0.0, 1e-6);
   {
      ROOT::RDataFrame df("Events", file);
      HS_CHECK_THROWS((hepsift::DefineStreamed(df, "s", m2, {"a", "nanny"}, 64).Sum<float>("s").GetValue()),
                      hepsift::NonFiniteInputError, "'nanny' is NaN at entry 17");
      HS_CHECK_THROWS((hepsift::DefineStreamed(df.Define("twice", "2 * a"), "s", m2, {"a", "twice"}, 64)
                          .Sum<float>("s")
                          .GetValue()),
                      hepsift::ConfigurationError, "input 'twice' is an expression or a Define");
      HS_CHECK_THROWS((hepsift::DefineStreamed(df.Redefine("a", "2 * a"), "s", m2, {"a", "nanny"}, 64)),
                      hepsift::ConfigurationError, "input 'a' is an expression or a Define");
      HS_CHECK_THROWS((hepsift::DefineStreamed(df.Filter("c > 0"), "s", m2, {"a", "nanny"}, 64)),
                      hepsift::ConfigurationError, "not the RDataFrame itself");
   }

   // Large batches run in cache-sized model calls on the CPU (ModelOptions::cpuChunk): the
   // same scores for chunks of 7 events in 1000-event batches as per event.
   {
      hepsift::ModelOptions o;
      o.cpuChunk = 7;
      auto chunked = std::make_shared<const hepsift::Model>(tmpPath("six.onnx"), o);
      HS_CHECK(chunked->chunk() == 7 && model->chunk() == 4096);
      ROOT::RDataFrame df("Events", file);
      auto both = hepsift::Define<float, double, int, unsigned int, Long64_t, bool>(
         hepsift::DefineStreamed(df, "bat", chunked, kCols, 1000), "pe", model, kCols);
      auto pe = both.Take<float>("pe");
      auto bat = both.Take<float>("bat");
      double worst = 0;
      for (std::size_t i = 0; i < pe->size(); ++i)
         worst = std::max(worst, static_cast<double>(std::fabs((*pe)[i] - (*bat)[i])));
      HS_CHECK(pe->size() == nEvents);
      HS_CHECK_CLOSE(worst, 0.0, 1e-6);
   }

   // hepsift::DefineScore: the one default rule (hepsift::chooseStrategy). Streamed on the data
   // frame itself, per event behind a Filter or where an input has systematic variations, so
   // that a varied input gives a varied score.
   {
      ROOT::RDataFrame df("Events", file);
      using hepsift::Strategy;
      HS_CHECK(hepsift::chooseStrategy(df, kCols, Strategy::Auto, 0).strategy == Strategy::Stream);
      HS_CHECK(hepsift::chooseStrategy(df, kCols, Strategy::Auto, 0).batchSize == hepsift::kDefaultBatchSize);
      HS_CHECK(hepsift::chooseStrategy(df.Filter("c > 0"), kCols, Strategy::Auto, 0).strategy == Strategy::PerEvent);
      HS_CHECK(hepsift::chooseStrategy(df.Filter("c > 0"), kCols, Strategy::Auto, 64).strategy == Strategy::TwoPass);
      auto varied = df.Vary("a", "ROOT::RVecF{a - 1.F, a + 1.F}", {"down", "up"}, "shift");
      const auto choice = hepsift::chooseStrategy(varied, kCols, Strategy::Auto, 0);
      HS_CHECK(choice.strategy == Strategy::PerEvent);
      HS_CHECK(choice.why == "input 'a' has systematic variations (Vary)");
      HS_CHECK_THROWS(hepsift::chooseStrategy(varied, kCols, Strategy::TwoPass, 64), hepsift::ConfigurationError,
                      "'a' has systematic variations");
      HS_CHECK_THROWS(hepsift::parseStrategy("fast"), hepsift::ConfigurationError, "strategy must be");
      auto scored = hepsift::DefineScore<float, double, int, unsigned int, Long64_t, bool>(varied, "s", model, kCols);
      auto sum = scored.Sum<float>("s");
      auto sums = ROOT::RDF::Experimental::VariationsFor(sum);
      const double down = sums["shift:down"], nominal = sums["nominal"], up = sums["shift:up"];
      // The linear model's score moves with a: down < nominal < up (or the reverse).
      HS_CHECK((down - nominal) * (up - nominal) < 0 && std::fabs(up - nominal) > 1e-3 * std::fabs(nominal));
      ROOT::RDataFrame fresh("Events", file);
      auto fast = hepsift::DefineScore<float, double, int, unsigned int, Long64_t, bool>(fresh, "fast", model, kCols);
      auto both = hepsift::Define<float, double, int, unsigned int, Long64_t, bool>(fast, "pe", model, kCols);
      auto pe = both.Take<float>("pe");
      auto bat = both.Take<float>("fast");
      double worst = 0;
      for (std::size_t i = 0; i < pe->size(); ++i)
         worst = std::max(worst, static_cast<double>(std::fabs((*pe)[i] - (*bat)[i])));
      HS_CHECK(pe->size() == nEvents && fresh.GetNRuns() == 1); // one loop: streamed, no first pass
      HS_CHECK_CLOSE(worst, 0.0, 1e-6);
   }

   // Guarded element access: -999 (or the given value) past the end of a collection.
   {
      const ROOT::RVecD jets{50., 30.};
      HS_CHECK(hepsift::at(jets, 1) == 30.f);
      HS_CHECK(hepsift::at(jets, 2) == hepsift::kMissing && hepsift::kMissing == -999.f);
      HS_CHECK(hepsift::at(ROOT::RVecI{}, 0, 0.f) == 0.f);
   }

   // The same scores with implicit multi-threading (2 threads: one model, per-slot buffers).
   ROOT::EnableImplicitMT(2);
   HS_CHECK_CLOSE(worstDifference(file, lin, model, seen), 0.0, 1e-6);
   HS_CHECK(seen == nEvents);
   HS_CHECK_CLOSE(batchedVsPerEvent(false), 0.0, 1e-6);
   HS_CHECK_CLOSE(batchedVsPerEvent(true), 0.0, 1e-6);
   HS_CHECK_CLOSE(streamedVsPerEvent(false), 0.0, 1e-6);
   HS_CHECK_CLOSE(streamedVsPerEvent(true), 0.0, 1e-6);

   return HS_REPORT();
}
